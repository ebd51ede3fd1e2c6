/* Which loaded image an address lies in, and what that image exports,
 * answered from memory alone: no loader lock, no allocation. Hooks use it
 * to recognise a Python image that arrived after start (a host that
 * dlopens libpython), where dladdr or dlsym would take the loader lock on
 * a path any thread may be on.
 *
 * The image comes from glibc's _dl_find_object (2.35+, lock-free, made for
 * unwinders); its exports from its own dynamic section: the GNU hash table
 * names the candidates, the symbol table and string table confirm. Where
 * glibc lacks _dl_find_object nothing is recognised late. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>

#include "python.h"
#include "real.h"

int bp_image_at(const void *addr, struct bp_image *out)
{
#ifdef DLFO_STRUCT_HAS_EH_DBASE
    struct dl_find_object fo;
    if (bp_real.dl_find_object((void *)addr, (void *)&fo) != 0 || !fo.dlfo_link_map)
        return 0;
    out->lo = (uintptr_t)fo.dlfo_map_start;
    out->hi = (uintptr_t)fo.dlfo_map_end;
    out->map = fo.dlfo_link_map;
    return 1;
#else
    (void)addr;
    (void)out;
    return 0;
#endif
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

void *bp_image_symbol(const struct bp_image *img, const char *name)
{
    const struct link_map *lm = img->map;
    if (!lm || !lm->l_ld)
        return NULL;
    uintptr_t base = lm->l_addr;
    const uint32_t *gh = NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    /* glibc relocates these entries in place; an image whose dynamic
     * section is read-only keeps them relative to its base. */
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
        uintptr_t p = d->d_un.d_ptr;
        if (p < base)
            p += base;
        if (d->d_tag == DT_GNU_HASH)
            gh = (const uint32_t *)p;
        else if (d->d_tag == DT_SYMTAB)
            symtab = (const ElfW(Sym) *)p;
        else if (d->d_tag == DT_STRTAB)
            strtab = (const char *)p;
    }
    if (!gh || !symtab || !strtab)
        return NULL;
    /* The GNU hash section: nbuckets, symoffset, bloom words, bloom shift,
     * the bloom filter, the buckets, then one chain word per symbol from
     * symoffset on (low bit set on a chain's last). */
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2], bloom_shift = gh[3];
    if (!nbuckets || !bloom_size)
        return NULL;
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(const void *)(gh + 4);
    const uint32_t *buckets = (const uint32_t *)(const void *)(bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = gnu_hash(name);
    const unsigned bits = sizeof(ElfW(Addr)) * 8;
    ElfW(Addr) word = bloom[(h / bits) % bloom_size];
    ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> bloom_shift) % bits));
    if ((word & mask) != mask)
        return NULL;
    uint32_t i = buckets[h % nbuckets];
    if (i < symoffset)
        return NULL;
    for (;; i++) {
        uint32_t ch = chain[i - symoffset];
        const ElfW(Sym) *s = &symtab[i];
        if ((ch | 1) == (h | 1) && s->st_shndx != SHN_UNDEF && s->st_value != 0 &&
            strcmp(strtab + s->st_name, name) == 0)
            return (void *)(base + s->st_value);
        if (ch & 1)
            return NULL;
    }
}
