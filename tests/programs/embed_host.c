/* A C program that embeds CPython the way uWSGI's python plugin and other
 * hosts do: libpython arrives by dlopen, after the program (and betapool's
 * constructor) started. Python's own headers are not needed: the few entry
 * points are looked up by name.
 *
 * Usage: embed_host [--local] LIBPYTHON SCRIPT
 * Runs SCRIPT's text in __main__ and exits 0 when it raised nothing, 1 when
 * it did, 2 when libpython or its entry points cannot be had. PYTHONHOME
 * must name the Python's prefix (the host is not in it). --local loads
 * libpython with RTLD_LOCAL (its symbols stay out of the global scope). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int local = argc > 1 && strcmp(argv[1], "--local") == 0;
    if (argc != 3 + local) {
        fprintf(stderr, "usage: embed_host [--local] LIBPYTHON SCRIPT\n");
        return 2;
    }
    const char *lib = argv[1 + local], *script = argv[2 + local];
    FILE *f = fopen(script, "r");
    if (!f) {
        perror(script);
        return 2;
    }
    static char code[1 << 20];
    size_t n = fread(code, 1, sizeof code - 1, f);
    fclose(f);
    code[n] = 0;

    void *py = dlopen(lib, RTLD_NOW | (local ? RTLD_LOCAL : RTLD_GLOBAL));
    if (!py) {
        fprintf(stderr, "embed_host: %s\n", dlerror());
        return 2;
    }
    void (*initialize)(int) = (void (*)(int))dlsym(py, "Py_InitializeEx");
    int (*run_string)(const char *) = (int (*)(const char *))dlsym(py, "PyRun_SimpleString");
    int (*finalize)(void) = (int (*)(void))dlsym(py, "Py_FinalizeEx");
    if (!initialize || !run_string || !finalize) {
        fprintf(stderr, "embed_host: %s lacks the embedding API\n", lib);
        return 2;
    }
    initialize(0);
    int failed = run_string(code) != 0;
    if (finalize() < 0)
        failed = 1;
    return failed;
}
