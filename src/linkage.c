/*
 * Run-time linkage of ELF files: reading the dynamic section with libelf,
 * and resolving each DT_NEEDED name of a staged tree the way ld.so will once
 * the tree is installed under its prefix.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/linkage.h"
#include "ipm/xalloc.h"

/* ld.so.conf include nesting deeper than this is a loop, not a configuration. */
#define LDCONF_MAX_DEPTH 8
/* Symlinks followed inside the staged tree before giving up (ld.so's ELOOP). */
#define TREE_MAX_LINKS 16

struct strv {
	char **v;
	size_t n;
	size_t alloc;
};

static void strv_push(struct strv *s, char *owned)
{
	XGROW(s->v, s->alloc, s->n + 1);
	s->v[s->n++] = owned;
}

static void strv_release(struct strv *s)
{
	xfree_strv(s->v, s->n);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_sort_unique(struct strv *s)
{
	size_t kept = 0;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (kept && !strcmp(s->v[kept - 1], s->v[i]))
			free(s->v[i]);
		else
			s->v[kept++] = s->v[i];
	}
	s->n = kept;
}

/* ---- reading one ELF file ---- */

/* Where the dynamic section's strings are: a section (through libelf), or a
 * raw chunk of the file found through DT_STRTAB when there are no sections. */
struct dynstr {
	Elf *elf;
	size_t section;
	const char *raw;
	size_t rawsize;
};

static const char *dynstr_at(const struct dynstr *s, GElf_Xword offset)
{
	if (!s->raw)
		return elf_strptr(s->elf, s->section, (size_t)offset);
	if (offset >= s->rawsize || !memchr(s->raw + offset, '\0', s->rawsize - offset))
		return NULL;
	return s->raw + offset;
}

static int elf_corrupt(const char *path, const char *what)
{
	const char *why = elf_errmsg(-1);
	return ipm_error_set(IPM_EINVAL, "cannot read ELF file '%s': bad %s: %s", path, what,
			     why ? why : "unknown libelf error");
}

/* The PT_DYNAMIC segment and the string table its DT_STRTAB names, for a
 * file without section headers. *dyn stays NULL when there is no PT_DYNAMIC. */
static int find_dynamic_by_segment(Elf_Data **dyn, struct dynstr *strs, Elf *elf, const char *path)
{
	size_t phnum, i, count, entsize;
	GElf_Phdr ph;
	GElf_Dyn d;
	GElf_Addr strtab = 0;
	GElf_Xword strsz = 0;
	int have_strtab = 0;
	Elf_Data *data = NULL, *str_data;

	*dyn = NULL;
	if (elf_getphdrnum(elf, &phnum) != 0)
		return elf_corrupt(path, "program headers");
	for (i = 0; i < phnum && !data; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph))
			return elf_corrupt(path, "program header");
		if (ph.p_type == PT_DYNAMIC) {
			data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_DYN);
			if (!data)
				return elf_corrupt(path, "dynamic segment");
		}
	}
	if (!data)
		return 0;
	entsize = gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
	count = entsize ? data->d_size / entsize : 0;
	for (i = 0; i < count && gelf_getdyn(data, (int)i, &d) && d.d_tag != DT_NULL; i++) {
		if (d.d_tag == DT_STRTAB) {
			strtab = d.d_un.d_ptr;
			have_strtab = 1;
		} else if (d.d_tag == DT_STRSZ) {
			strsz = d.d_un.d_val;
		}
	}
	if (!have_strtab || strsz == 0)
		return ipm_error_set(IPM_EINVAL, "cannot read ELF file '%s': the dynamic segment has no string table",
				     path);
	/* DT_STRTAB is an address: the PT_LOAD segment holding it gives its offset. */
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph))
			return elf_corrupt(path, "program header");
		if (ph.p_type != PT_LOAD || strtab < ph.p_vaddr || strtab - ph.p_vaddr >= ph.p_filesz)
			continue;
		str_data = elf_getdata_rawchunk(elf, (int64_t)(strtab - ph.p_vaddr + ph.p_offset), strsz, ELF_T_BYTE);
		if (!str_data)
			return elf_corrupt(path, "dynamic string table");
		strs->raw = str_data->d_buf;
		strs->rawsize = str_data->d_size;
		*dyn = data;
		return 0;
	}
	return ipm_error_set(IPM_EINVAL, "cannot read ELF file '%s': the dynamic string table is outside the file",
			     path);
}

static void split_search_path(struct ipm_elf *out, const char *text)
{
	struct strv entries = { NULL, 0, 0 };
	const char *p = text;

	for (;;) {
		size_t len = strcspn(p, ":");
		strv_push(&entries, xstrndup(p, len));
		if (!p[len])
			break;
		p += len + 1;
	}
	out->runpath = entries.v;
	out->nrunpath = entries.n;
}

static int read_dynamic(struct ipm_elf *out, Elf *elf, const char *path)
{
	struct dynstr strs = { elf, 0, NULL, 0 };
	struct strv needed = { NULL, 0, 0 };
	Elf_Scn *scn = NULL;
	Elf_Data *data = NULL;
	GElf_Shdr shdr;
	GElf_Dyn d;
	size_t count, entsize;
	const char *runpath = NULL, *rpath = NULL;
	int rc = 0;

	while (!data && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr)) {
			rc = elf_corrupt(path, "section header");
			goto done;
		}
		if (shdr.sh_type != SHT_DYNAMIC)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data) {
			rc = elf_corrupt(path, "dynamic section");
			goto done;
		}
		strs.section = shdr.sh_link;
	}
	if (!data) {
		rc = find_dynamic_by_segment(&data, &strs, elf, path);
		if (rc || !data)
			goto done;
	}
	entsize = gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
	count = entsize ? data->d_size / entsize : 0;
	for (size_t i = 0; i < count; i++) {
		const char *text;

		if (!gelf_getdyn(data, (int)i, &d)) {
			rc = elf_corrupt(path, "dynamic entry");
			goto done;
		}
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag != DT_NEEDED && d.d_tag != DT_SONAME && d.d_tag != DT_RUNPATH && d.d_tag != DT_RPATH)
			continue;
		text = dynstr_at(&strs, d.d_un.d_val);
		if (!text) {
			rc = ipm_error_set(IPM_EINVAL, "cannot read ELF file '%s': a dynamic entry points outside "
					   "its string table", path);
			goto done;
		}
		if (d.d_tag == DT_NEEDED)
			strv_push(&needed, xstrdup(text));
		else if (d.d_tag == DT_SONAME && !out->soname)
			out->soname = xstrdup(text);
		else if (d.d_tag == DT_RUNPATH && !runpath)
			runpath = text;
		else if (d.d_tag == DT_RPATH && !rpath)
			rpath = text;
	}
	/* ld.so ignores DT_RPATH when DT_RUNPATH is present. */
	if (runpath) {
		split_search_path(out, runpath);
	} else if (rpath) {
		split_search_path(out, rpath);
		out->rpath_is_old = 1;
	}
done:
	out->needed = needed.v;
	out->nneeded = needed.n;
	return rc;
}

int ipm_elf_read(struct ipm_elf *out, const char *path)
{
	unsigned char magic[SELFMAG];
	struct stat st;
	GElf_Ehdr ehdr;
	Elf *elf = NULL;
	ssize_t n;
	int fd = -1, rc = 0;

	memset(out, 0, sizeof(*out));
	/* O_NONBLOCK: a FIFO must not hang the reader; it is not ELF anyway. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		ipm_error_clear();
		rc = IPM_ENOTFOUND;
		goto done;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", path, strerror(errno));
		goto done;
	}
	if ((size_t)n < sizeof(magic) || memcmp(magic, ELFMAG, SELFMAG) != 0) {
		ipm_error_clear();
		rc = IPM_ENOTFOUND;
		goto done;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		rc = ipm_error_set(IPM_ERROR, "cannot read ELF file '%s': libelf is out of date", path);
		goto done;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		rc = elf_corrupt(path, "ELF header");
		goto done;
	}
	out->elf_class = gelf_getclass(elf);
	out->machine = ehdr.e_machine;
	out->elf_type = ehdr.e_type;
	rc = read_dynamic(out, elf, path);
done:
	if (rc)
		ipm_elf_release(out);
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return rc;
}

void ipm_elf_release(struct ipm_elf *e)
{
	free(e->soname);
	xfree_strv(e->needed, e->nneeded);
	xfree_strv(e->runpath, e->nrunpath);
	memset(e, 0, sizeof(*e));
}

/*
 * 1 when path is an ELF file of this class and machine: the test ld.so makes
 * before it takes a candidate (it skips the others and keeps looking). Only
 * the identification bytes are read; e_machine is in the file's byte order.
 */
static int elf_matches(const char *path, int elf_class, int machine)
{
	unsigned char head[EI_NIDENT + 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	ssize_t n;
	int file_machine;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	n = pread(fd, head, sizeof(head), 0);
	close(fd);
	if (n < (ssize_t)sizeof(head) || memcmp(head, ELFMAG, SELFMAG) != 0 || head[EI_CLASS] != elf_class)
		return 0;
	/* e_type (2 bytes) follows e_ident, then e_machine. */
	if (head[EI_DATA] == ELFDATA2LSB)
		file_machine = head[EI_NIDENT + 2] | head[EI_NIDENT + 3] << 8;
	else if (head[EI_DATA] == ELFDATA2MSB)
		file_machine = head[EI_NIDENT + 2] << 8 | head[EI_NIDENT + 3];
	else
		return 0;
	return file_machine == machine;
}

/* ---- paths ---- */

/* An absolute path with "." and ".." removed and slashes single, as text
 * (as ld.so treats search path entries); NULL for a relative path. */
static char *path_normalize(const char *path)
{
	struct ipm_buf out = IPM_BUF_INIT;
	const char *p = path;

	if (path[0] != '/')
		return NULL;
	while (*p) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(out.ptr, '/');
			if (slash)
				ipm_buf_truncate(&out, (size_t)(slash - out.ptr));
		} else {
			ipm_buf_addch(&out, '/');
			ipm_buf_addn(&out, p, len);
		}
		p += len;
	}
	if (out.len == 0)
		ipm_buf_addch(&out, '/');
	return ipm_buf_detach(&out);
}

/* When path (normalised) is dir or lies under it: what follows dir, without
 * its leading '/' ("" for dir itself). Else NULL. */
static const char *path_under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (!strcmp(dir, "/"))
		return path + 1;
	if (strncmp(path, dir, len) != 0)
		return NULL;
	if (path[len] == '\0')
		return path + len;
	if (path[len] == '/')
		return path + len + 1;
	return NULL;
}

/* ---- the system's library directories ---- */

struct dirlist {
	struct strv dirs;
	struct dir_id { dev_t dev; ino_t ino; } *ids;
	size_t nids;
	size_t ids_alloc;
};

static void dirlist_add(struct dirlist *dl, const char *dir)
{
	struct stat st;
	char *normal = path_normalize(dir);

	if (!normal)
		return;
	for (size_t i = 0; i < dl->dirs.n; i++) {
		if (!strcmp(dl->dirs.v[i], normal)) {
			free(normal);
			return;
		}
	}
	if (stat(normal, &st) == 0) {
		for (size_t i = 0; i < dl->nids; i++) {
			if (dl->ids[i].dev == st.st_dev && dl->ids[i].ino == st.st_ino) {
				free(normal);
				return;
			}
		}
		XGROW(dl->ids, dl->ids_alloc, dl->nids + 1);
		dl->ids[dl->nids].dev = st.st_dev;
		dl->ids[dl->nids].ino = st.st_ino;
		dl->nids++;
	}
	strv_push(&dl->dirs, normal);
}

static void dirlist_release(struct dirlist *dl)
{
	strv_release(&dl->dirs);
	free(dl->ids);
	memset(dl, 0, sizeof(*dl));
}

static int read_ldconf_into(struct dirlist *dl, const char *conf_path, int depth);

static int ldconf_include(struct dirlist *dl, const char *conf_path, const char *pattern, int depth)
{
	glob_t matches;
	char *full = NULL;
	int rc = 0, grc;

	memset(&matches, 0, sizeof(matches));
	if (pattern[0] != '/') {
		const char *slash = strrchr(conf_path, '/');
		if (slash)
			full = xasprintf("%.*s/%s", (int)(slash - conf_path), conf_path, pattern);
	}
	grc = glob(full ? full : pattern, 0, NULL, &matches);
	if (grc == GLOB_NOSPACE) {
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': out of memory expanding 'include %s'",
				   conf_path, pattern);
		goto done;
	}
	for (size_t i = 0; grc == 0 && rc == 0 && i < matches.gl_pathc; i++)
		rc = read_ldconf_into(dl, matches.gl_pathv[i], depth + 1);
done:
	if (grc == 0)
		globfree(&matches);
	free(full);
	return rc;
}

static int read_ldconf_into(struct dirlist *dl, const char *conf_path, int depth)
{
	FILE *f = NULL;
	char *line = NULL;
	size_t line_alloc = 0;
	int rc = 0;

	if (depth > LDCONF_MAX_DEPTH)
		goto done;
	f = fopen(conf_path, "re");
	if (!f) {
		if (errno != ENOENT)
			rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", conf_path, strerror(errno));
		goto done;
	}
	while (rc == 0 && getline(&line, &line_alloc, f) >= 0) {
		char *p = line, *end;

		p[strcspn(p, "#")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
			*--end = '\0';
		if (!*p)
			continue;
		if (!strncmp(p, "include", 7) && (p[7] == ' ' || p[7] == '\t')) {
			char *cursor = p + 8, *pattern;
			while (rc == 0 && (pattern = strsep(&cursor, " \t")))
				if (*pattern)
					rc = ldconf_include(dl, conf_path, pattern, depth);
		} else if (!strncasecmp(p, "hwcap", 5) && (p[5] == ' ' || p[5] == '\t')) {
			continue;
		} else {
			p[strcspn(p, "=")] = '\0';
			dirlist_add(dl, p);
		}
	}
	if (rc == 0 && ferror(f))
		rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", conf_path, strerror(errno));
done:
	free(line);
	if (f)
		fclose(f);
	return rc;
}

int ipm_linkage_read_ldconf(char ***dirs, size_t *ndirs, const char *conf_path)
{
	struct dirlist dl;
	int rc;

	memset(&dl, 0, sizeof(dl));
	*dirs = NULL;
	*ndirs = 0;
	rc = read_ldconf_into(&dl, conf_path, 0);
	if (rc == 0) {
		*dirs = dl.dirs.v;
		*ndirs = dl.dirs.n;
		dl.dirs.v = NULL;
		dl.dirs.n = 0;
	}
	dirlist_release(&dl);
	return rc;
}

/* Read once per process and kept (reachable) until exit. */
static struct strv system_dirs;
static pthread_once_t system_dirs_once = PTHREAD_ONCE_INIT;

static void load_system_dirs(void)
{
	static const char *const trusted[] = { "/lib", "/usr/lib", "/lib64", "/usr/lib64" };
	struct dirlist dl;

	memset(&dl, 0, sizeof(dl));
	/* An unreadable ld.so.conf leaves the trusted directories, as ld.so
	 * without a cache would search; the check goes on. */
	if (read_ldconf_into(&dl, "/etc/ld.so.conf", 0) != 0)
		ipm_error_clear();
	for (size_t i = 0; i < sizeof(trusted) / sizeof(trusted[0]); i++)
		dirlist_add(&dl, trusted[i]);
	system_dirs = dl.dirs;
	dl.dirs.v = NULL;
	dl.dirs.n = 0;
	dirlist_release(&dl);
}

/* ---- checking a staged tree ---- */

struct check {
	const char *tree_root;
	char *prefix;              /* normalised */
	struct strv forbidden;     /* normalised */
	struct strv provides;
	struct strv needs;
	struct ipm_linkage_problem *problems;
	size_t nproblems;
	size_t problems_alloc;
};

enum found { FOUND_NOWHERE, FOUND_IN_PREFIX, FOUND_OUTSIDE };

static void add_problem(struct check *c, enum ipm_linkage_kind kind, const char *file, const char *library,
			const char *detail)
{
	struct ipm_linkage_problem *p;

	XGROW(c->problems, c->problems_alloc, c->nproblems + 1);
	p = &c->problems[c->nproblems++];
	p->kind = kind;
	p->file = xstrdup(file);
	p->library = xstrdup(library);
	p->detail = xstrdup(detail);
}

/*
 * The path where prefix/rel can be read before installing: tree_root/rel,
 * following a symlink whose target (relative, or absolute under prefix)
 * stays in the prefix back into the tree; one leaving the prefix gives its
 * target (absolute). NULL when tree_root/rel does not exist, or for a loop.
 */
static char *tree_path(const struct check *c, const char *rel)
{
	char *rest = xstrdup(rel), *result = NULL;
	struct ipm_buf path = IPM_BUF_INIT, target = IPM_BUF_INIT;

	for (int links = 0; links <= TREE_MAX_LINKS; links++) {
		struct stat st;
		ssize_t n;
		char *slash, *installed;
		const char *under;

		ipm_buf_reset(&path);
		ipm_buf_add(&path, c->tree_root);
		ipm_buf_addpath(&path, rest);
		if (lstat(path.ptr, &st) < 0)
			break;
		if (!S_ISLNK(st.st_mode)) {
			result = ipm_buf_detach(&path);
			break;
		}
		ipm_buf_reset(&target);
		ipm_buf_grow(&target, (size_t)st.st_size + 64);
		for (;;) {
			n = readlink(path.ptr, target.ptr, target.alloc);
			if (n < 0 || (size_t)n < target.alloc)
				break;
			ipm_buf_grow(&target, target.alloc);
		}
		if (n < 0)
			break;
		target.ptr[n] = '\0';
		target.len = (size_t)n;
		/* Where the target will be once installed, as an absolute path. */
		slash = strrchr(rest, '/');
		if (target.ptr[0] == '/')
			installed = path_normalize(target.ptr);
		else if (slash)
			installed = xasprintf("%s/%.*s/%s", c->prefix, (int)(slash - rest), rest, target.ptr);
		else
			installed = xasprintf("%s/%s", c->prefix, target.ptr);
		if (target.ptr[0] != '/') {
			char *normal = path_normalize(installed);
			free(installed);
			installed = normal;
		}
		under = path_under(installed, c->prefix);
		if (!under) {
			result = installed;
			break;
		}
		free(rest);
		rest = xstrdup(under);
		free(installed);
	}
	free(rest);
	ipm_buf_release(&path);
	ipm_buf_release(&target);
	return result;
}

/* Looks name up in dir (absolute, normalised) as ld.so would after the
 * install; *found_path (caller frees) is where it was found. */
static enum found lookup_in_dir(const struct check *c, const char *dir, const char *name,
				const struct ipm_elf *elf, char **found_path)
{
	const char *under = path_under(dir, c->prefix);
	char *path;

	*found_path = NULL;
	if (under) {
		char *rel = *under ? xasprintf("%s/%s", under, name) : xstrdup(name);
		path = tree_path(c, rel);
		free(rel);
		if (path && elf_matches(path, elf->elf_class, elf->machine)) {
			*found_path = path;
			return FOUND_IN_PREFIX;
		}
		free(path);
	}
	path = xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", name);
	if (elf_matches(path, elf->elf_class, elf->machine)) {
		*found_path = path;
		return under ? FOUND_IN_PREFIX : FOUND_OUTSIDE;
	}
	free(path);
	return FOUND_NOWHERE;
}

/* 1 when ipm provides name: tree_root/lib/name or prefix/lib/name exists. */
static int provided_by_ipm(const struct check *c, const char *name)
{
	char *rel = xasprintf("lib/%s", name);
	char *path = tree_path(c, rel);
	struct stat st;
	int provided = path && stat(path, &st) == 0;

	free(path);
	if (!provided) {
		path = xasprintf("%s/lib/%s", c->prefix, name);
		provided = stat(path, &st) == 0;
		free(path);
	}
	free(rel);
	return provided;
}

static void resolve_needed(struct check *c, const char *file, const struct ipm_elf *elf,
			   const struct strv *search, const char *name)
{
	enum found where = FOUND_NOWHERE;
	char *found_path = NULL;

	if (strchr(name, '/')) {
		char *normal = path_normalize(name);
		if (normal) {
			const char *slash = strrchr(normal, '/');
			char *dir = slash == normal ? xstrdup("/") : xstrndup(normal, (size_t)(slash - normal));
			where = lookup_in_dir(c, dir, slash + 1, elf, &found_path);
			free(dir);
			free(normal);
		}
		goto done;
	}
	for (size_t i = 0; i < search->n && where == FOUND_NOWHERE; i++)
		where = lookup_in_dir(c, search->v[i], name, elf, &found_path);
	if (where != FOUND_NOWHERE)
		goto done;
	for (size_t i = 0; i < system_dirs.n && where == FOUND_NOWHERE; i++)
		where = lookup_in_dir(c, system_dirs.v[i], name, elf, &found_path);
	if (where == FOUND_OUTSIDE && provided_by_ipm(c, name))
		add_problem(c, IPM_LINKAGE_SHADOWED, file, name, found_path);
done:
	if (where == FOUND_NOWHERE)
		add_problem(c, IPM_LINKAGE_MISSING, file, name, NULL);
	else if (where == FOUND_IN_PREFIX)
		strv_push(&c->needs, xstrdup(name));
	free(found_path);
}

/* The entry with $ORIGIN / ${ORIGIN} replaced by origin; other '$' tokens
 * are kept as written. */
static char *expand_origin(const char *entry, const char *origin)
{
	struct ipm_buf out = IPM_BUF_INIT;
	const char *p = entry;

	while (*p) {
		size_t skip = 0;

		if (!strncmp(p, "${ORIGIN}", 9))
			skip = 9;
		else if (!strncmp(p, "$ORIGIN", 7) && (p[7] == '\0' || p[7] == '/'))
			skip = 7;
		if (skip) {
			ipm_buf_add(&out, origin);
			p += skip;
		} else {
			ipm_buf_addch(&out, *p++);
		}
	}
	return ipm_buf_detach(&out);
}

static int is_forbidden(const struct check *c, const char *dir)
{
	for (size_t i = 0; i < c->forbidden.n; i++)
		if (path_under(dir, c->forbidden.v[i]))
			return 1;
	return 0;
}

/* name is *.so or *.so.<version> */
static int is_library_name(const char *name)
{
	const char *p = name;

	while ((p = strstr(p, ".so"))) {
		const char *rest = p + 3;
		if (*rest == '\0' || (*rest == '.' && rest[1] && strspn(rest, ".0123456789") == strlen(rest)))
			return 1;
		p = rest;
	}
	return 0;
}

static int check_file(struct check *c, const char *path, const char *rel, const char *base)
{
	struct ipm_elf elf;
	struct strv search = { NULL, 0, 0 };
	const char *slash = strrchr(rel, '/');
	char *origin = NULL;
	int rc = ipm_elf_read(&elf, path);

	if (rc == IPM_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (elf.elf_type != ET_DYN && elf.elf_type != ET_EXEC)
		goto done;
	if (elf.elf_type == ET_DYN && (elf.soname || is_library_name(base)))
		strv_push(&c->provides, xstrdup(elf.soname ? elf.soname : base));

	origin = slash ? xasprintf("%s/%.*s", c->prefix, (int)(slash - rel), rel) : xstrdup(c->prefix);
	for (size_t i = 0; i < elf.nrunpath; i++) {
		char *expanded = expand_origin(elf.runpath[i], origin);
		char *dir = path_normalize(expanded);
		int repeated = 0;

		free(expanded);
		for (size_t j = 0; j < i && !repeated; j++)
			repeated = !strcmp(elf.runpath[j], elf.runpath[i]);
		if (dir && is_forbidden(c, dir)) {
			if (!repeated)
				add_problem(c, IPM_LINKAGE_BAD_RUNPATH, rel, elf.runpath[i], NULL);
			free(dir);
		} else if (dir) {
			strv_push(&search, dir);
		}
	}
	for (size_t i = 0; i < elf.nneeded; i++)
		resolve_needed(c, rel, &elf, &search, elf.needed[i]);
done:
	free(origin);
	strv_release(&search);
	ipm_elf_release(&elf);
	return 0;
}

/* Checks the directory tree_root/rel ("" for the root), entries in name
 * order so that the problems come out the same on every file system. */
static int check_dir(struct check *c, const char *rel)
{
	struct strv names = { NULL, 0, 0 };
	struct ipm_buf path = IPM_BUF_INIT, child = IPM_BUF_INIT;
	struct dirent *de;
	DIR *dir = NULL;
	int rc = 0;

	ipm_buf_add(&path, c->tree_root);
	ipm_buf_addpath(&path, rel);
	dir = opendir(path.ptr);
	if (!dir) {
		rc = ipm_error_set(errno == ENOENT ? IPM_ENOTFOUND : IPM_ERROR, "cannot read directory '%s': %s",
				   path.ptr, strerror(errno));
		goto done;
	}
	errno = 0;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strv_push(&names, xstrdup(de->d_name));
		errno = 0;
	}
	if (errno) {
		rc = ipm_error_set(IPM_ERROR, "cannot read directory '%s': %s", path.ptr, strerror(errno));
		goto done;
	}
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		struct stat st;
		char *child_rel = *rel ? xasprintf("%s/%s", rel, names.v[i]) : xstrdup(names.v[i]);

		ipm_buf_reset(&child);
		ipm_buf_add(&child, path.ptr);
		ipm_buf_addpath(&child, names.v[i]);
		if (lstat(child.ptr, &st) < 0)
			rc = ipm_error_set(IPM_ERROR, "cannot read '%s': %s", child.ptr, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = check_dir(c, child_rel);
		else if (S_ISREG(st.st_mode))
			rc = check_file(c, child.ptr, child_rel, names.v[i]);
		free(child_rel);
	}
done:
	if (dir)
		closedir(dir);
	strv_release(&names);
	ipm_buf_release(&path);
	ipm_buf_release(&child);
	return rc;
}

int ipm_linkage_check(struct ipm_linkage *out, const char *tree_root, const char *prefix,
		      const char *const *forbidden, size_t nforbidden)
{
	struct check c;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.tree_root = tree_root;
	c.prefix = path_normalize(prefix);
	if (!c.prefix) {
		rc = ipm_error_set(IPM_EINVAL, "cannot check linkage: prefix '%s' is not an absolute path", prefix);
		goto done;
	}
	for (size_t i = 0; i < nforbidden; i++) {
		char *dir = path_normalize(forbidden[i]);
		if (!dir) {
			rc = ipm_error_set(IPM_EINVAL, "cannot check linkage: forbidden directory '%s' is not "
					   "an absolute path", forbidden[i]);
			goto done;
		}
		strv_push(&c.forbidden, dir);
	}
	pthread_once(&system_dirs_once, load_system_dirs);
	rc = check_dir(&c, "");
	if (rc)
		goto done;
	strv_sort_unique(&c.provides);
	strv_sort_unique(&c.needs);
	out->provides = c.provides.v;
	out->nprovides = c.provides.n;
	out->needs = c.needs.v;
	out->nneeds = c.needs.n;
	out->problems = c.problems;
	out->nproblems = c.nproblems;
	memset(&c.provides, 0, sizeof(c.provides));
	memset(&c.needs, 0, sizeof(c.needs));
	c.problems = NULL;
	c.nproblems = 0;
done:
	free(c.prefix);
	strv_release(&c.forbidden);
	strv_release(&c.provides);
	strv_release(&c.needs);
	for (size_t i = 0; i < c.nproblems; i++) {
		free(c.problems[i].file);
		free(c.problems[i].library);
		free(c.problems[i].detail);
	}
	free(c.problems);
	return rc;
}

void ipm_linkage_release(struct ipm_linkage *l)
{
	xfree_strv(l->provides, l->nprovides);
	xfree_strv(l->needs, l->nneeds);
	for (size_t i = 0; i < l->nproblems; i++) {
		free(l->problems[i].file);
		free(l->problems[i].library);
		free(l->problems[i].detail);
	}
	free(l->problems);
	memset(l, 0, sizeof(*l));
}
