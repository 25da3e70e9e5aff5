#ifndef IPM_LINKAGE_H
#define IPM_LINKAGE_H
#include <stddef.h>
/*
 * Run-time linkage of ELF files (elfutils' libelf): what a file needs from
 * the dynamic loader, and whether a staged tree's programs and libraries
 * will find their libraries once the tree is installed under a prefix.
 *
 * Resolution follows ld.so(8) for a file on its own: its DT_RUNPATH (or, when
 * it has none, its DT_RPATH), then the system's library directories. What
 * depends on the running process is left out: LD_LIBRARY_PATH, and the
 * DT_RPATH of the program that loads a library. The dynamic string tokens
 * $LIB and $PLATFORM are not expanded (an entry using them finds nothing).
 */

/* What ipm_elf_read found in one file; every string is owned by the struct. */
struct ipm_elf {
	char *soname;              /* DT_SONAME, or NULL */
	char **needed;             /* DT_NEEDED, in order */
	size_t nneeded;
	char **runpath;            /* DT_RUNPATH (else DT_RPATH) split at ':', as written ($ORIGIN unexpanded) */
	size_t nrunpath;
	int rpath_is_old;          /* the entries came from DT_RPATH */
	int elf_class;             /* ELFCLASS32 / ELFCLASS64 */
	int machine;               /* e_machine */
	int elf_type;              /* e_type: ET_EXEC, ET_DYN, ET_REL, ... */
};

/*
 * Reads path (following symlinks). The dynamic section is found through the
 * section headers, or through the PT_DYNAMIC program header when the file
 * has none (a stripped-down file the loader still runs). A file without a
 * dynamic section (static program, object file) reads as empty lists.
 * IPM_ENOTFOUND, with the error slot cleared, when the file is not ELF (its
 * first 4 bytes, read before anything else, are not the ELF magic: text,
 * scripts, static archives). IPM_ERROR when it cannot be read (a missing
 * file included: ENOTFOUND means "not ELF" here), IPM_EINVAL when it is
 * corrupt. *out is zeroed first and left empty on every error.
 */
int ipm_elf_read(struct ipm_elf *out, const char *path);
void ipm_elf_release(struct ipm_elf *e);

enum ipm_linkage_kind {
	IPM_LINKAGE_MISSING,      /* a needed library resolves nowhere */
	IPM_LINKAGE_SHADOWED,     /* it resolves to a system copy while the tree or the prefix provides that soname */
	IPM_LINKAGE_BAD_RUNPATH,  /* a RUNPATH entry points into one of the forbidden directories */
};

struct ipm_linkage_problem {
	enum ipm_linkage_kind kind;
	char *file;      /* relative to the prefix, e.g. "bin/app" */
	char *library;   /* the needed soname (for BAD_RUNPATH: the entry, as written) */
	char *detail;    /* SHADOWED: the system path the loader would take; else NULL */
};

struct ipm_linkage {
	char **provides;  size_t nprovides;  /* sonames of the tree's shared libraries (DT_SONAME, else the file name), sorted, unique */
	char **needs;     size_t nneeds;     /* needed sonames that resolve into the prefix (to this tree or to files already in the prefix), sorted, unique */
	struct ipm_linkage_problem *problems; size_t nproblems;  /* by file (names sorted within each directory), then in DT_NEEDED order */
};

/*
 * Checks every regular ELF file under tree_root, a staged tree whose files
 * will appear at prefix/<same relative path> (prefix absolute). The walk does
 * not follow symlinks; non-ELF files, static archives and object files
 * (ET_REL) are skipped. A shared library is an ET_DYN file with a DT_SONAME,
 * or one named *.so or *.so.N... (a position-independent program is ET_DYN
 * too, and has neither).
 *
 * Each DT_NEEDED name is resolved as ld.so would once installed:
 * - a name containing '/' is a path and is checked directly (an absolute one
 *   under prefix as below; a relative one depends on the working directory
 *   at run time and counts as MISSING);
 * - else the RUNPATH/RPATH entries, with $ORIGIN and ${ORIGIN} expanded to
 *   the directory the file will have under prefix and the result normalised
 *   ("." and ".." removed as text). An entry that lies under prefix is looked
 *   up first in tree_root at the same relative path, then in the prefix
 *   itself (a symlink of the tree whose absolute target lies under prefix is
 *   followed into the tree). Relative entries and forbidden ones are not
 *   searched;
 * - then the system's library directories: those of /etc/ld.so.conf (see
 *   ipm_linkage_read_ldconf), then /lib, /usr/lib, /lib64, /usr/lib64, read
 *   once per process; one that lies under prefix is looked up like a
 *   RUNPATH entry.
 * Only files whose ELF class and machine match the file being checked are
 * taken (ld.so skips the others and keeps looking).
 *
 * MISSING: found nowhere. SHADOWED: not found through RUNPATH, found in a
 * system directory outside prefix, but tree_root/lib/NAME or prefix/lib/NAME
 * exists (ipm provides it; stat follows symlinks). Libraries inside the tree
 * count only through RUNPATH: a program of the tree needing a library of the
 * same tree must find it that way. BAD_RUNPATH: an entry that, expanded and
 * normalised, names one of forbidden (absolute directories: build and
 * staging trees) or lies under it; each bad entry is reported once per file.
 *
 * Problems are collected, not errors: the return value is < 0 only when the
 * check itself failed (a directory or file that cannot be read, a corrupt
 * ELF file), with the message naming the file. *out is zeroed first and left
 * empty on error.
 */
int ipm_linkage_check(struct ipm_linkage *out, const char *tree_root, const char *prefix,
		      const char *const *forbidden, size_t nforbidden);
void ipm_linkage_release(struct ipm_linkage *l);

/*
 * The directories of an ld.so.conf file, in order, each once (a directory
 * reached under two names, as /lib/x86_64-linux-gnu and
 * /usr/lib/x86_64-linux-gnu are when /lib links to usr/lib, counts under
 * the first, as ldconfig does). Understands '#' comments, blank lines,
 * `include PATTERN...` (glob(3), sorted; a relative pattern is relative to
 * the including file's directory; nested up to 8 levels) and skips
 * `hwcap` lines; a directory may be followed by '=' and a type (old
 * syntax, ignored); relative directories are skipped. A missing conf
 * file, or a missing included one, gives no directories and no error; one
 * that cannot be read is IPM_ERROR. *dirs (caller frees with xfree_strv)
 * is NULL when there are none. ipm_linkage_check uses /etc/ld.so.conf.
 */
int ipm_linkage_read_ldconf(char ***dirs, size_t *ndirs, const char *conf_path);
#endif
