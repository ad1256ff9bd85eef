// C shim around libpng and libjpeg-turbo (filled in by the images work).
#pragma once
