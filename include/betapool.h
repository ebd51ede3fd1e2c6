/* betapool: public interface of libbetapool.so. */
#ifndef BETAPOOL_H
#define BETAPOOL_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *betapool_version(void);

#ifdef __cplusplus
}
#endif
#endif
