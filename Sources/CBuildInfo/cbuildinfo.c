// The commit a build came from. `make` writes commit.h here (git-ignored) before building, and
// touches this file when the commit changes, so that only this file recompiles; a plain
// `swift build` without it still compiles and reports "unknown commit".
#include "cbuildinfo.h"

#if __has_include("commit.h")
#include "commit.h"
#endif

#ifndef LORWEB_COMMIT
#define LORWEB_COMMIT "unknown commit"
#endif

const char *lorweb_build_commit(void) { return LORWEB_COMMIT; }
