/* Safe extraction of source archives with libarchive. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>

#include "ipm/buf.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/xalloc.h"

/*
 * Extraction reads the archive twice. The first pass checks every member
 * (names, types, link targets) and decides whether a single top-level
 * directory can be stripped, so a bad archive writes nothing at all. The
 * second pass writes. libarchive's own SECURE_* flags stay on as a second
 * line of defence, and they also refuse to write through a symlink.
 */

struct link_member {
	char *path;    /* normalised member path (before stripping) */
	char *target;  /* as stored in the archive */
	int hard;
};

struct scan {
	const char *archive;
	/* the extraction budget: limits, the archive's own size, and the bytes
	 * counted against it so far (declared sizes in the scan, written
	 * extents while writing) */
	const struct ipm_limits *limits;
	unsigned long long archive_size;
	unsigned long long used;
	char *top;           /* first component shared by every member, or NULL */
	int single_top;      /* every member is under top */
	int top_has_children;
	struct link_member *links;
	size_t nlinks, links_alloc;
	char **symlinks;     /* sorted normalised (stripped) paths of symlinks */
	size_t nsymlinks;
};

static void scan_release(struct scan *s)
{
	for (size_t i = 0; i < s->nlinks; i++) {
		free(s->links[i].path);
		free(s->links[i].target);
	}
	free(s->links);
	xfree_strv(s->symlinks, s->nsymlinks);
	free(s->top);
}

/* Member name without "." components and duplicate slashes; refuses
 * absolute names and ".." components. "" for the archive's root. */
static int normalise(char **out, const char *archive, const char *name)
{
	struct ipm_buf b = IPM_BUF_INIT;
	*out = NULL;
	if (!name)
		return ipm_error_set(IPM_EVERIFY, "archive '%s': a member has no name", archive);
	if (name[0] == '/')
		return ipm_error_set(IPM_EVERIFY, "archive '%s': member '%s' has an absolute path", archive, name);
	const char *p = name;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			ipm_buf_release(&b);
			return ipm_error_set(IPM_EVERIFY, "archive '%s': member '%s' has a '..' component", archive, name);
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (b.len)
				ipm_buf_addch(&b, '/');
			ipm_buf_addn(&b, p, len);
		}
		p += len;
		while (*p == '/')
			p++;
	}
	*out = ipm_buf_detach(&b);
	return 0;
}

/* The member path with the top directory removed ("" for the top itself). */
static const char *stripped(const char *path, int strip)
{
	if (!strip)
		return path;
	const char *slash = strchr(path, '/');
	return slash ? slash + 1 : "";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_symlink_member(const struct scan *s, const char *path)
{
	return s->nsymlinks &&
	       bsearch(&path, s->symlinks, s->nsymlinks, sizeof(char *), cmp_str) != NULL;
}

/*
 * Resolves a symlink's target lexically from the link's directory and
 * refuses it when it leaves the destination. Lexical resolution is only
 * sound while no symlink of the archive is followed by a "..", so that case
 * is refused too: a chain of links that each look harmless could otherwise
 * climb out ("a -> b/c", "b/c -> ..", "x -> a/..").
 */
static int check_symlink(const struct scan *s, const char *member, const char *link_path, const char *target)
{
	struct ipm_buf at = IPM_BUF_INIT;
	int rc = 0;
	int via_link = 0;

	if (target[0] == '/' || target[0] == '\0')
		goto escape;
	const char *slash = strrchr(link_path, '/');
	if (slash)
		ipm_buf_addn(&at, link_path, (size_t)(slash - link_path));
	const char *p = target;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (via_link || at.len == 0)
				goto escape;
			const char *up = strrchr(at.ptr, '/');
			ipm_buf_truncate(&at, up ? (size_t)(up - at.ptr) : 0);
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (at.len)
				ipm_buf_addch(&at, '/');
			ipm_buf_addn(&at, p, len);
			if (is_symlink_member(s, at.ptr))
				via_link = 1;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	goto done;
escape:
	rc = ipm_error_set(IPM_EVERIFY, "archive '%s': member '%s' is a link to '%s' outside the destination",
			   s->archive, member, target);
done:
	ipm_buf_release(&at);
	return rc;
}

/*
 * Charges n more bytes to the budget: past limits.extract_bytes, or past
 * extract_ratio times the archive's size (above IPM_EXTRACT_RATIO_FLOOR),
 * is IPM_EVERIFY. what says what is being counted ("its members declare",
 * "it expands to").
 */
static int budget_charge(struct scan *s, unsigned long long n, const char *what)
{
	const struct ipm_limits *l = s->limits;
	unsigned long long ratio_cap;
	int rc;

	s->used = n > ~0ull - s->used ? ~0ull : s->used + n;
	if (l->extract_bytes && s->used > l->extract_bytes) {
		rc = ipm_error_set(IPM_EVERIFY, "archive '%s': %s more than the limit of %llu bytes",
				   s->archive, what, l->extract_bytes);
		ipm_limits_hint(l, "limits.extract_bytes");
		return rc;
	}
	ratio_cap = l->extract_ratio && s->archive_size <= ~0ull / l->extract_ratio
			    ? l->extract_ratio * s->archive_size : ~0ull;
	if (l->extract_ratio && s->used > IPM_EXTRACT_RATIO_FLOOR && s->used > ratio_cap) {
		rc = ipm_error_set(IPM_EVERIFY, "archive '%s': %s more than %llu times its own %llu bytes",
				   s->archive, what, l->extract_ratio, s->archive_size);
		ipm_limits_hint(l, "limits.extract_ratio");
		return rc;
	}
	return 0;
}

static int open_archive(struct archive **out, const char *path)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		int rc = ipm_error_set(IPM_ERROR, "cannot open archive '%s': %s", path, archive_error_string(a));
		archive_read_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

static int scan_archive(struct scan *s, const char *path)
{
	struct archive *a = NULL;
	struct archive_entry *entry;
	char *name = NULL;
	int rc, r;

	if ((rc = open_archive(&a, path)) < 0)
		return rc;
	s->single_top = 1;
	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		/* what decompression produced so far (headers and skipped data
		 * included): a bomb is stopped here, before any writing */
		la_int64_t expanded = archive_filter_bytes(a, 0);
		if (expanded > 0 && (unsigned long long)expanded > s->used &&
		    (rc = budget_charge(s, (unsigned long long)expanded - s->used, "it expands to")) < 0)
			goto done;
		if ((rc = normalise(&name, path, archive_entry_pathname(entry))) < 0)
			goto done;
		if (name[0] == '\0') {
			free(name);
			name = NULL;
			continue;
		}
		const char *shown = archive_entry_pathname(entry);
		mode_t type = archive_entry_filetype(entry);
		const char *hardlink = archive_entry_hardlink(entry);
		if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
			rc = ipm_error_set(IPM_EVERIFY, "archive '%s': member '%s' is a device, socket or fifo",
					   path, shown);
			goto done;
		}

		const char *slash = strchr(name, '/');
		size_t first_len = slash ? (size_t)(slash - name) : strlen(name);
		if (!s->top)
			s->top = xstrndup(name, first_len);
		if (strlen(s->top) != first_len || strncmp(s->top, name, first_len) != 0)
			s->single_top = 0;
		else if (slash)
			s->top_has_children = 1;
		else if (type != AE_IFDIR || hardlink)
			s->single_top = 0;  /* a lone top-level file is content, not a wrapper */

		/* Declared sizes are known before anything is written: an
		 * archive that says it is too big is refused whole. */
		if (!hardlink && type == AE_IFREG && archive_entry_size_is_set(entry) &&
		    archive_entry_size(entry) > 0 &&
		    (rc = budget_charge(s, (unsigned long long)archive_entry_size(entry), "its members declare")) < 0)
			goto done;
		if (hardlink || type == AE_IFLNK) {
			const char *target = hardlink ? hardlink : archive_entry_symlink(entry);
			XGROW(s->links, s->links_alloc, s->nlinks + 1);
			s->links[s->nlinks].path = name;
			s->links[s->nlinks].target = xstrdup(target ? target : "");
			s->links[s->nlinks].hard = hardlink != NULL;
			s->nlinks++;
			name = NULL;
		}
		free(name);
		name = NULL;
		archive_read_data_skip(a);
	}
	if (r != ARCHIVE_EOF) {
		rc = ipm_error_set(IPM_ERROR, "cannot read archive '%s': %s", path, archive_error_string(a));
		goto done;
	}
done:
	free(name);
	archive_read_free(a);
	return rc;
}

/* Refuses a hard link (member) whose target (stripped) is a symlink of
 * the archive or lies under one. */
static int check_hardlink_target(const struct scan *s, const char *member, const char *target)
{
	char *prefix = xstrdup(target);
	int rc = 0;

	/* target itself, then each directory above it */
	for (char *end = prefix + strlen(prefix); ; ) {
		*end = '\0';
		if (is_symlink_member(s, prefix)) {
			rc = ipm_error_set(IPM_EVERIFY, "archive '%s': member '%s' is a hard link %s the symbolic link '%s'",
					   s->archive, member, strcmp(prefix, target) == 0 ? "to" : "through", prefix);
			break;
		}
		end = strrchr(prefix, '/');
		if (!end)
			break;
	}
	free(prefix);
	return rc;
}

/* Checks the links once the whole archive (and so the stripping) is known. */
static int check_links(struct scan *s, int strip)
{
	int rc = 0;
	char *target = NULL;

	s->symlinks = xcalloc(s->nlinks + 1, sizeof(char *));
	for (size_t i = 0; i < s->nlinks; i++)
		if (!s->links[i].hard)
			s->symlinks[s->nsymlinks++] = xstrdup(stripped(s->links[i].path, strip));
	qsort(s->symlinks, s->nsymlinks, sizeof(char *), cmp_str);

	for (size_t i = 0; i < s->nlinks; i++) {
		const struct link_member *l = &s->links[i];
		if (!l->hard) {
			if ((rc = check_symlink(s, l->path, stripped(l->path, strip), l->target)) < 0)
				goto done;
			continue;
		}
		/* Hard link targets name another member, from the archive's root. */
		if ((rc = normalise(&target, s->archive, l->target)) < 0)
			goto done;
		if (target[0] == '\0' || (strip && (strncmp(target, s->top, strlen(s->top)) != 0 ||
						    target[strlen(s->top)] != '/'))) {
			rc = ipm_error_set(IPM_EVERIFY, "archive '%s': member '%s' is a link to '%s' outside the destination",
					   s->archive, l->path, l->target);
			goto done;
		}
		/* A hard link to a symlink is a second symlink with the same
		 * target, read from another directory, which check_symlink
		 * never saw; through one, it names a file outside. Neither has
		 * a use in a source archive. */
		if ((rc = check_hardlink_target(s, l->path, stripped(target, strip))) < 0)
			goto done;
		free(target);
		target = NULL;
	}
done:
	free(target);
	return rc;
}

/* Copies one member's data; what it writes (the extent of the file, holes
 * included) is charged to the budget as it goes, since a member may hold
 * more than its header declared. -1 write error, -2 read error, -3 over
 * budget (error slot set). */
static int copy_data(struct scan *s, struct archive *in, struct archive *out)
{
	const void *block;
	size_t size;
	la_int64_t offset;
	unsigned long long extent = 0;
	int r;
	while ((r = archive_read_data_block(in, &block, &size, &offset)) == ARCHIVE_OK) {
		unsigned long long end = (offset > 0 ? (unsigned long long)offset : 0) + size;
		if (end > extent) {
			if (budget_charge(s, end - extent, "it expands to") < 0)
				return -3;
			extent = end;
		}
		if (archive_write_data_block(out, block, size, offset) < ARCHIVE_OK)
			return -1;
	}
	return r == ARCHIVE_EOF ? 0 : -2;
}

int ipm_archive_extract(const char *archive, const char *dest_dir, int strip)
{
	return ipm_archive_extract_limited(archive, dest_dir, strip, NULL);
}

int ipm_archive_extract_limited(const char *archive, const char *dest_dir, int strip,
				const struct ipm_limits *limits)
{
	struct scan s = { .archive = archive, .limits = limits ? limits : &ipm_limits_default };
	struct archive *in = NULL, *out = NULL;
	struct archive_entry *entry;
	char *real_dest = NULL, *name = NULL, *full = NULL;
	struct stat st;
	int rc, r, copied;

	if (stat(archive, &st) == 0 && st.st_size > 0)
		s.archive_size = (unsigned long long)st.st_size;
	if ((rc = scan_archive(&s, archive)) < 0)
		goto done;
	s.used = 0;   /* the declared sizes passed; now what is written counts */
	strip = strip && s.top && s.single_top && s.top_has_children;
	if ((rc = check_links(&s, strip)) < 0)
		goto done;

	if ((rc = ipm_mkdir_p(dest_dir, 0755)) < 0)
		goto done;
	/* libarchive refuses to write through symlinks anywhere in a path, so
	 * the destination itself is named without any. */
	real_dest = realpath(dest_dir, NULL);
	if (!real_dest) {
		rc = ipm_error_set(IPM_ERROR, "cannot resolve '%s': %s", dest_dir, strerror(errno));
		goto done;
	}
	if ((rc = open_archive(&in, archive)) < 0)
		goto done;
	out = archive_write_disk_new();
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
					    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
					    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
	while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *shown = archive_entry_pathname(entry);
		if ((rc = normalise(&name, archive, shown)) < 0)
			goto done;
		const char *rel = stripped(name, strip);
		if (rel[0] == '\0') {
			free(name);
			name = NULL;
			continue;
		}
		full = xasprintf("%s/%s", real_dest, rel);
		archive_entry_set_pathname(entry, full);
		free(full);
		full = NULL;
		const char *hardlink = archive_entry_hardlink(entry);
		if (hardlink) {
			char *target = NULL;
			if ((rc = normalise(&target, archive, hardlink)) < 0)
				goto done;
			full = xasprintf("%s/%s", real_dest, stripped(target, strip));
			free(target);
			archive_entry_set_hardlink(entry, full);
			free(full);
			full = NULL;
		}
		/* No set-id bits from a download; the owner can always read,
		 * write and remove what was extracted. */
		mode_t perm = archive_entry_perm(entry) & 0777;
		archive_entry_set_perm(entry, archive_entry_filetype(entry) == AE_IFDIR ? perm | 0700 : perm | 0600);

		copied = 0;
		if (archive_write_header(out, entry) < ARCHIVE_OK ||
		    (archive_entry_size(entry) > 0 && (copied = copy_data(&s, in, out)) < 0) ||
		    archive_write_finish_entry(out) < ARCHIVE_OK) {
			if (copied == -3) {
				rc = ipm_error_code();
				goto done;
			}
			const char *why = archive_error_string(out) ? archive_error_string(out) : archive_error_string(in);
			/* name, not shown: set_pathname above freed the member's own name */
			rc = ipm_error_set(IPM_ERROR, "archive '%s': cannot extract '%s': %s", archive, name,
					   why ? why : "unknown error");
			goto done;
		}
		free(name);
		name = NULL;
	}
	if (r != ARCHIVE_EOF) {
		rc = ipm_error_set(IPM_ERROR, "cannot read archive '%s': %s", archive, archive_error_string(in));
		goto done;
	}
	if (archive_write_close(out) != ARCHIVE_OK) {
		rc = ipm_error_set(IPM_ERROR, "archive '%s': cannot finish extraction: %s", archive,
				   archive_error_string(out));
		goto done;
	}
done:
	if (in)
		archive_read_free(in);
	if (out)
		archive_write_free(out);
	free(name);
	free(full);
	free(real_dest);
	scan_release(&s);
	return rc;
}
