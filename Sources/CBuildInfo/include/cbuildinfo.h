#ifndef CBUILDINFO_H
#define CBUILDINFO_H

/// The git commit lorweb was built from ("unknown commit" when the build had no git information).
const char *lorweb_build_commit(void);

#endif
