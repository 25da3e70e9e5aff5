/* ipm registry new: a registry entry with its source pinned and a recipe guessed. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <git2.h>

#include "ipm/buf.h"
#include "ipm/detect.h"
#include "ipm/entry.h"
#include "ipm/error.h"
#include "ipm/fetch.h"
#include "ipm/fs.h"
#include "ipm/scaffold.h"
#include "ipm/version.h"
#include "ipm/xalloc.h"

/* ---- versions from tags and file names ---- */

static int ends_with_ci(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && strncasecmp(s + len - n, suffix, n) == 0;
}

/* A digit at i may start the version when what precedes it is a separator
 * ("jq-1.7", "curl-7_88_1", "R_2_5_0") or a 'v' that is ("v1.2", "lib-v1.2"):
 * so the 2 of "pcre2-10.42" is never taken for the start. */
static int version_may_start(const char *s, size_t i)
{
	if (!isdigit((unsigned char)s[i]))
		return 0;
	if (i == 0 || strchr("-_/", s[i - 1]))
		return 1;
	return (s[i - 1] == 'v' || s[i - 1] == 'V') && (i == 1 || strchr("-_/", s[i - 2]));
}

char *ipm_scaffold_version_from_tag(const char *tag)
{
	static const char *const suffixes[] = { "-release", "-stable", "-final" };

	if (!tag)
		return NULL;
	for (size_t i = 0; tag[i]; i++) {
		if (!version_may_start(tag, i))
			continue;
		char *v = xstrdup(tag + i);
		size_t len = strlen(v);
		for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
			if (ends_with_ci(v, len, suffixes[k]) && len > strlen(suffixes[k])) {
				len -= strlen(suffixes[k]);
				v[len] = '\0';
			}
		for (char *p = v; *p; p++)
			if (*p == '_')
				*p = '.';
		if (ipm_version_valid(v) > 0)
			return v;
		free(v);
	}
	return NULL;
}

static const char *const archive_suffixes[] = {
	".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst", ".tzst",
	".tar.lz", ".tar.lzma", ".tar", ".zip",
};

/* The file name of url: after the last '/', before any '?' or '#'. */
static char *url_file_name(const char *url)
{
	size_t end = strcspn(url, "?#");
	size_t start = end;
	while (start > 0 && url[start - 1] != '/')
		start--;
	return xstrndup(url + start, end - start);
}

char *ipm_scaffold_version_from_url(const char *url)
{
	char *file, *v;
	size_t len;

	if (!url)
		return NULL;
	file = url_file_name(url);
	len = strlen(file);
	for (size_t k = 0; k < sizeof(archive_suffixes) / sizeof(archive_suffixes[0]); k++)
		if (ends_with_ci(file, len, archive_suffixes[k])) {
			file[len - strlen(archive_suffixes[k])] = '\0';
			break;
		}
	v = ipm_scaffold_version_from_tag(file);
	free(file);
	return v;
}

/* ---- recipes ---- */

static int has_file(char *const *files, size_t nfiles, const char *name)
{
	for (size_t i = 0; i < nfiles; i++)
		if (strcmp(files[i], name) == 0)
			return 1;
	return 0;
}

/* A Makefile's text, as far as the recipe depends on it. */
struct make_style {
	int install;     /* has an install target */
	int upper;       /* uses PREFIX */
	int lower;       /* uses prefix */
	int destdir;     /* mentions DESTDIR */
	int pc;          /* mentions a .pc file */
};

static int word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* word occurs in text as a whole word (case-sensitive): "PREFIX" in
 * "$(PREFIX)" or "PREFIX ?=", not in "CMAKE_INSTALL_PREFIX". */
static int has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
		if ((p == text || !word_char(p[-1])) && !word_char(p[n]))
			return 1;
	return 0;
}

/* A rule for target at the start of a line ("install:", "install::", "all install:"). */
static int has_target(const char *text, const char *target)
{
	size_t tlen = strlen(target);
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *colon, *p;
		size_t len = strcspn(line, "\n");
		if (line[0] == '\t' || line[0] == '#' || line[0] == '.')
			continue;
		colon = memchr(line, ':', len);
		if (!colon || colon[1] == '=')
			continue;
		for (p = line; p < colon;) {
			while (p < colon && isspace((unsigned char)*p))
				p++;
			const char *w = p;
			while (p < colon && !isspace((unsigned char)*p))
				p++;
			if ((size_t)(p - w) == tlen && strncmp(w, target, tlen) == 0)
				return 1;
		}
	}
	return 0;
}

static struct make_style make_style_of(const char *text)
{
	struct make_style m = { 1, 0, 0, 1, 0 };
	if (!text)
		return m;   /* unread: the conventional Makefile */
	m.install = has_target(text, "install");
	m.upper = has_word(text, "PREFIX");
	m.lower = has_word(text, "prefix");
	m.destdir = has_word(text, "DESTDIR");
	m.pc = strstr(text, ".pc") != NULL;
	return m;
}

/* "PREFIX=\"<value>\"", "prefix=...", both, or "" for a Makefile using neither. */
static char *prefix_args(const struct make_style *m, const char *value)
{
	if (m->upper && m->lower)
		return xasprintf(" PREFIX=\"%s\" prefix=\"%s\"", value, value);
	if (m->lower)
		return xasprintf(" prefix=\"%s\"", value);
	if (m->upper)
		return xasprintf(" PREFIX=\"%s\"", value);
	return xstrdup("");
}

static int is_header(const char *name)
{
	size_t len = strlen(name);
	return (len > 2 && strcmp(name + len - 2, ".h") == 0) || (len > 4 && strcmp(name + len - 4, ".hpp") == 0);
}

/* A .c file that is not part of a library: examples, tests, benchmarks. */
static int is_library_source(const char *name)
{
	static const char *const extra[] = { "example", "test", "bench", "demo", "try", "sample", "fuzz" };
	size_t len = strlen(name);
	if (len < 3 || (strcmp(name + len - 2, ".c") != 0 && strcmp(name + len - 3, ".cc") != 0 &&
			(len < 5 || strcmp(name + len - 4, ".cpp") != 0)))
		return 0;
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (strncasecmp(name, extra[i], strlen(extra[i])) == 0)
			return 0;
	return 1;
}

/* The options of CMakeLists.txt text that build extras (documentation,
 * tests, examples, fuzzers, benchmarks) and default to ON, as " -DNAME=OFF"
 * each, and BUILD_TESTING when the project uses it. */
static char *cmake_extras_off(const char *text)
{
	static const char *const extras[] = { "DOC", "TEST", "EXAMPLE", "FUZZ", "BENCH" };
	struct ipm_buf b = IPM_BUF_INIT;

	if (!text)
		return ipm_buf_detach(&b);
	for (const char *p = strstr(text, "option("); p; p = strstr(p + 1, "option(")) {
		const char *name = p + 7, *end, *close, *last;
		char *opt;
		int extra = 0, on;
		if (p > text && word_char(p[-1]))
			continue;
		while (*name == ' ' || *name == '\t')
			name++;
		end = name;
		while (word_char(*end))
			end++;
		/* the ')' that closes the call, outside the quoted help text */
		for (close = end; *close && *close != ')'; close++)
			if (*close == '"' && !(close = strchr(close + 1, '"')))
				break;
		if (end == name || !close || !*close)
			continue;
		opt = xstrndup(name, (size_t)(end - name));
		for (size_t k = 0; k < sizeof(extras) / sizeof(extras[0]); k++)
			extra |= strstr(opt, extras[k]) != NULL;
		/* the default is the last word before ')' */
		last = close;
		while (last > end && isspace((unsigned char)last[-1]))
			last--;
		on = last - end >= 3 && strncmp(last - 2, "ON", 2) == 0 && !word_char(last[-3]);
		if (extra && on && strcmp(opt, "BUILD_TESTING") != 0 && !strstr(b.ptr, opt))
			ipm_buf_addf(&b, " -D%s=OFF", opt);
		free(opt);
	}
	if (has_word(text, "BUILD_TESTING") || strstr(text, "include(CTest)"))
		ipm_buf_add(&b, " -DBUILD_TESTING=OFF");
	return ipm_buf_detach(&b);
}

/* The steps, by method: configured for the prefix ($IPM_PREFIX), installed
 * under $DESTDIR (which cmake --install, meson install and automake's make
 * install read from the environment), libraries in $IPM_PREFIX/lib where
 * LDFLAGS' rpath points. */
static const struct {
	const char *name;
	const char *build[4];
	const char *install[2];
	const char *tools[4];
} fixed_recipes[] = {
	{ "cmake",
	  { "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=\"$IPM_PREFIX\" -DCMAKE_INSTALL_LIBDIR=lib",
	    "cmake --build build -j \"$IPM_JOBS\"" },
	  { "cmake --install build" },
	  { "cmake", "cc", "make" } },
	{ "meson",
	  { "meson setup build --prefix=\"$IPM_PREFIX\" --libdir=lib --buildtype=release", "meson compile -C build" },
	  { "meson install -C build" },
	  { "meson", "ninja", "cc" } },
	{ "configure",
	  { "./configure --prefix=\"$IPM_PREFIX\"", "make -j\"$IPM_JOBS\"" },
	  { "make install" },
	  { "cc", "make" } },
	{ "autotools",
	  { "autoreconf -fi", "./configure --prefix=\"$IPM_PREFIX\"", "make -j\"$IPM_JOBS\"" },
	  { "make install" },
	  { "autoreconf", "cc", "make" } },
};

void ipm_scaffold_method_release(struct ipm_scaffold_method *m)
{
	if (!m)
		return;
	for (size_t i = 0; m->build[i]; i++)
		free(m->build[i]);
	for (size_t i = 0; m->install[i]; i++)
		free(m->install[i]);
	memset(m, 0, sizeof(*m));
}

int ipm_scaffold_method(struct ipm_scaffold_method *out, const char *name, const struct ipm_scaffold_tree *tree)
{
	size_t nb = 0, ni = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(fixed_recipes) / sizeof(fixed_recipes[0]); i++) {
		if (strcmp(fixed_recipes[i].name, name) != 0)
			continue;
		out->name = fixed_recipes[i].name;
		for (size_t k = 0; k < 4 && fixed_recipes[i].build[k]; k++)
			out->build[nb++] = xstrdup(fixed_recipes[i].build[k]);
		if (strcmp(name, "cmake") == 0 && tree && tree->cmakelists) {
			char *off = cmake_extras_off(tree->cmakelists);
			char *configure = xasprintf("%s%s", out->build[0], off);
			free(out->build[0]);
			out->build[0] = configure;
			free(off);
		}
		for (size_t k = 0; k < 2 && fixed_recipes[i].install[k]; k++)
			out->install[ni++] = xstrdup(fixed_recipes[i].install[k]);
		for (size_t k = 0; k < 4 && fixed_recipes[i].tools[k]; k++)
			out->tools[k] = fixed_recipes[i].tools[k];
		return 0;
	}
	if (strcmp(name, "make") == 0) {
		struct make_style m = make_style_of(tree ? tree->makefile : NULL);
		char *at_build = prefix_args(&m, "$IPM_PREFIX");
		char *at_install = prefix_args(&m, m.destdir ? "$IPM_PREFIX" : "$DESTDIR$IPM_PREFIX");

		out->name = "make";
		out->build[nb++] = xasprintf("make -j\"$IPM_JOBS\"%s", at_build);
		if (!m.upper && !m.lower)
			out->install[ni++] = xstrdup("make install PREFIX=\"$IPM_PREFIX\"");
		else
			out->install[ni++] = xasprintf("make install%s", at_install);
		if (!m.destdir && m.pc && (m.upper || m.lower))
			out->install[ni++] = xstrdup(
				"find \"$DESTDIR$IPM_PREFIX\" -name '*.pc' -type f | while read -r pc; do "
				"sed \"s|$DESTDIR||g\" \"$pc\" >\"$pc.tmp\" && mv \"$pc.tmp\" \"$pc\"; done");
		out->tools[0] = "cc";
		out->tools[1] = "make";
		free(at_build);
		free(at_install);
		return 0;
	}
	if (strcmp(name, "program") == 0 && tree && tree->name) {
		out->name = "program";
		out->build[nb++] = xasprintf("make -j\"$IPM_JOBS\" '%s'", tree->name);
		out->install[ni++] = xasprintf("mkdir -p \"$DESTDIR$IPM_PREFIX/bin\" && cp '%s' \"$DESTDIR$IPM_PREFIX/bin/\"",
					       tree->name);
		if (tree->files) {
			char *man = xasprintf("%s.1", tree->name);
			if (has_file(tree->files, tree->nfiles, man))
				out->install[ni++] = xasprintf(
					"mkdir -p \"$DESTDIR$IPM_PREFIX/share/man/man1\" && cp '%s' \"$DESTDIR$IPM_PREFIX/share/man/man1/\"",
					man);
			free(man);
		}
		out->tools[0] = "cc";
		out->tools[1] = "make";
		return 0;
	}
	if (strcmp(name, "headers") == 0) {
		out->name = "headers";
		out->install[ni++] = xstrdup("mkdir -p \"$DESTDIR$IPM_PREFIX/include\" \"$DESTDIR$IPM_PREFIX/lib/pkgconfig\"");
		if (tree && tree->include_headers)
			out->install[ni++] = xstrdup("cp -R include/. \"$DESTDIR$IPM_PREFIX/include/\"");
		else
			out->install[ni++] = xstrdup("for h in *.h *.hpp; do [ ! -f \"$h\" ] || cp \"$h\" \"$DESTDIR$IPM_PREFIX/include/\"; done");
		out->install[ni++] = xstrdup(
			"printf 'prefix=%s\\nincludedir=${prefix}/include\\n\\nName: %s\\nDescription: %s (headers)\\n"
			"Version: %s\\nCflags: -I${includedir}\\n' \"$IPM_PREFIX\" \"$IPM_NAME\" \"$IPM_NAME\" \"$IPM_VERSION\" "
			">\"$DESTDIR$IPM_PREFIX/lib/pkgconfig/$IPM_NAME.pc\"");
		return 0;
	}
	return ipm_error_set(IPM_EINVAL, "no recipe for method '%s'", name);
}

/* The standard install hints of each tool (the order they are written in). */
static const struct {
	const char *tool;
	const char *hints[5][2];
} tool_hints[] = {
	{ "cc", { { "debian", "sudo apt-get install build-essential" },
		  { "fedora", "sudo dnf install gcc make" },
		  { "alpine", "sudo apk add build-base" },
		  { "arch", "sudo pacman -S base-devel" },
		  { "macos", "xcode-select --install" } } },
	{ "make", { { "debian", "sudo apt-get install make" },
		    { "fedora", "sudo dnf install make" },
		    { "alpine", "sudo apk add make" },
		    { "arch", "sudo pacman -S make" },
		    { "macos", "xcode-select --install" } } },
	{ "cmake", { { "debian", "sudo apt-get install cmake" },
		     { "fedora", "sudo dnf install cmake" },
		     { "alpine", "sudo apk add cmake" },
		     { "arch", "sudo pacman -S cmake" },
		     { "macos", "brew install cmake" } } },
	{ "meson", { { "debian", "sudo apt-get install meson" },
		     { "fedora", "sudo dnf install meson" },
		     { "alpine", "sudo apk add meson" },
		     { "arch", "sudo pacman -S meson" },
		     { "macos", "brew install meson" } } },
	{ "ninja", { { "debian", "sudo apt-get install ninja-build" },
		     { "fedora", "sudo dnf install ninja-build" },
		     { "alpine", "sudo apk add samurai" },
		     { "arch", "sudo pacman -S ninja" },
		     { "macos", "brew install ninja" } } },
	{ "autoreconf", { { "debian", "sudo apt-get install autoconf automake libtool" },
			  { "fedora", "sudo dnf install autoconf automake libtool" },
			  { "alpine", "sudo apk add autoconf automake libtool" },
			  { "arch", "sudo pacman -S autoconf automake libtool" },
			  { "macos", "brew install autoconf automake libtool" } } },
};
#define NTOOLS (sizeof(tool_hints) / sizeof(tool_hints[0]))


/* The build files ipm_scaffold_guess looks at, in the order they are reported. */
static const char *const build_files[] = {
	"CMakeLists.txt", "meson.build", "configure", "configure.ac", "configure.in",
	"Makefile", "makefile", "GNUmakefile",
};

size_t ipm_scaffold_guess_tree(const char *names[IPM_SCAFFOLD_MAX_METHODS], const struct ipm_scaffold_tree *tree)
{
	char *const *files = tree->files;
	size_t nfiles = tree->nfiles, n = 0;
	int configure = has_file(files, nfiles, "configure");
	int autoconf = has_file(files, nfiles, "configure.ac") || has_file(files, nfiles, "configure.in");
	int makefile = has_file(files, nfiles, "Makefile") || has_file(files, nfiles, "makefile") ||
		       has_file(files, nfiles, "GNUmakefile");
	int headers = tree->include_headers, sources = 0;

	if (has_file(files, nfiles, "CMakeLists.txt"))
		names[n++] = "cmake";
	if (has_file(files, nfiles, "meson.build"))
		names[n++] = "meson";
	if (configure)
		names[n++] = "configure";
	else if (autoconf)
		names[n++] = "autotools";
	/* Next to a configure script the Makefile is usually its output or a
	 * stub telling to run it: building with it alone would fail. A Makefile
	 * without an install target only builds tests or examples. */
	if (makefile && !configure && !autoconf && make_style_of(tree->makefile).install)
		names[n++] = "make";
	if (n)
		return n;
	/* no install target, but a rule building the program the package is named after */
	if (makefile && tree->makefile && tree->name && !configure && !autoconf &&
	    has_target(tree->makefile, tree->name)) {
		names[n++] = "program";
		return n;
	}
	for (size_t i = 0; i < nfiles; i++) {
		headers |= is_header(files[i]);
		sources |= is_library_source(files[i]);
	}
	if (headers && !sources)
		names[n++] = "headers";
	return n;
}

size_t ipm_scaffold_guess(const char *names[IPM_SCAFFOLD_MAX_METHODS], char *const *files, size_t nfiles)
{
	struct ipm_scaffold_tree tree = { files, nfiles, 0, NULL, NULL, NULL };
	return ipm_scaffold_guess_tree(names, &tree);
}

/* ---- the entry document ---- */

static void add_string_array(cJSON *obj, const char *key, const char *const *items, size_t max)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, key);
	for (size_t i = 0; i < max && items[i]; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(items[i]));
}

/* "requires" for the tools the methods use, in tool_hints order (none
 * when no method needs a tool). */
static void add_requires(cJSON *doc, const struct ipm_scaffold_method *methods, size_t nmethods)
{
	int used[NTOOLS] = { 0 }, any = 0;
	cJSON *arr;

	for (size_t m = 0; m < nmethods; m++)
		for (size_t t = 0; t < 4 && methods[m].tools[t]; t++)
			for (size_t k = 0; k < NTOOLS; k++)
				if (strcmp(tool_hints[k].tool, methods[m].tools[t]) == 0)
					used[k] = any = 1;
	if (!any)
		return;
	arr = cJSON_AddArrayToObject(doc, "requires");
	for (size_t k = 0; k < NTOOLS; k++) {
		if (!used[k])
			continue;
		cJSON *req = cJSON_CreateObject();
		cJSON *hints;
		cJSON_AddStringToObject(req, "tool", tool_hints[k].tool);
		hints = cJSON_AddObjectToObject(req, "hints");
		for (size_t h = 0; h < 5; h++)
			cJSON_AddStringToObject(hints, tool_hints[k].hints[h][0], tool_hints[k].hints[h][1]);
		cJSON_AddItemToArray(arr, req);
	}
}

static void add_methods(cJSON *doc, const struct ipm_scaffold_method *methods, size_t nmethods)
{
	cJSON *arr = cJSON_AddArrayToObject(doc, "methods");
	for (size_t m = 0; m < nmethods; m++) {
		cJSON *method = cJSON_CreateObject();
		cJSON_AddStringToObject(method, "name", methods[m].name);
		if (methods[m].build[0])
			add_string_array(method, "build", (const char *const *)methods[m].build, IPM_SCAFFOLD_MAX_STEPS);
		add_string_array(method, "install", (const char *const *)methods[m].install, IPM_SCAFFOLD_MAX_STEPS);
		cJSON_AddItemToArray(arr, method);
	}
}

/* An https git URL without ".git" (and trailing slashes), or NULL. */
static char *homepage_of(const char *git)
{
	size_t len;
	if (!git || strncmp(git, "https://", 8) != 0)
		return NULL;
	len = strlen(git);
	while (len > 8 && git[len - 1] == '/')
		len--;
	if (len > 12 && strncmp(git + len - 4, ".git", 4) == 0)
		len -= 4;
	return xstrndup(git, len);
}

/* "owner/repo" of a GitHub URL, so `ipm install owner/repo` finds the entry. */
static char *github_repo_of(const char *git)
{
	static const char prefix[] = "https://github.com/";
	char *home = homepage_of(git);
	char *repo = NULL;
	const char *rest, *slash;

	if (home && strncmp(home, prefix, sizeof(prefix) - 1) == 0) {
		rest = home + sizeof(prefix) - 1;
		slash = strchr(rest, '/');
		if (slash && slash > rest && slash[1] && !strchr(slash + 1, '/'))
			repo = xstrdup(rest);
	}
	free(home);
	return repo;
}

struct pinned {
	char *version;      /* NULL until known */
	char *commit;       /* git */
	char *tag;          /* git, may stay NULL */
	char *sha256;       /* archive */
	unsigned long long size;   /* archive: its length in bytes */
	char **files;       /* file names at the source's top level */
	size_t nfiles, files_alloc;
	int include_headers;   /* include/ holds headers */
	char *makefile;     /* the top-level Makefile's text (git), or NULL */
	char *cmakelists;   /* the top-level CMakeLists.txt's text (git), or NULL */
	char *readme, *readme_name;     /* git: the README's text and name, or NULL */
	char *license, *license_name;   /* git: the LICENSE or COPYING file's */
};

static void pinned_release(struct pinned *p)
{
	free(p->version);
	free(p->commit);
	free(p->tag);
	free(p->sha256);
	xfree_strv(p->files, p->nfiles);
	free(p->makefile);
	free(p->cmakelists);
	free(p->readme);
	free(p->readme_name);
	free(p->license);
	free(p->license_name);
	memset(p, 0, sizeof(*p));
}

static void pinned_add_file(struct pinned *p, const char *name)
{
	if (has_file(p->files, p->nfiles, name))
		return;
	XGROW(p->files, p->files_alloc, p->nfiles + 1);
	p->files[p->nfiles++] = xstrdup(name);
}

/* The entry in its written key order. */
static cJSON *build_doc(const struct ipm_scaffold_opts *opts, const struct pinned *p,
			const struct ipm_scaffold_method *methods, size_t nmethods)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *versions, *release;
	char *homepage = opts->homepage ? xstrdup(opts->homepage) : homepage_of(opts->git);
	char *repo = github_repo_of(opts->git);

	cJSON_AddStringToObject(doc, "name", opts->name);
	if (opts->description)
		cJSON_AddStringToObject(doc, "description", opts->description);
	if (homepage)
		cJSON_AddStringToObject(doc, "homepage", homepage);
	if (opts->license)
		cJSON_AddStringToObject(doc, "license", opts->license);
	if (repo)
		cJSON_AddStringToObject(doc, "repo", repo);
	versions = cJSON_AddArrayToObject(doc, "versions");
	release = cJSON_CreateObject();
	cJSON_AddStringToObject(release, "version", p->version);
	if (opts->git) {
		cJSON_AddStringToObject(release, "git", opts->git);
		cJSON_AddStringToObject(release, "commit", p->commit);
		if (p->tag)
			cJSON_AddStringToObject(release, "tag", p->tag);
	} else {
		cJSON_AddStringToObject(release, "url", opts->url);
		cJSON_AddStringToObject(release, "sha256", p->sha256);
		if (p->size)
			cJSON_AddNumberToObject(release, "size", (double)p->size);
	}
	cJSON_AddItemToArray(versions, release);
	if (nmethods) {
		add_requires(doc, methods, nmethods);
		add_methods(doc, methods, nmethods);
	}
	free(homepage);
	free(repo);
	return doc;
}

static void add_indent(struct ipm_buf *b, int depth)
{
	for (int i = 0; i < depth; i++)
		ipm_buf_add(b, "  ");
}

static void add_json_string(struct ipm_buf *b, const char *s)
{
	cJSON *item = cJSON_CreateString(s);
	char *text = cJSON_PrintUnformatted(item);
	ipm_buf_add(b, text);
	cJSON_free(text);
	cJSON_Delete(item);
}

/* Two-space indentation, one member or element per line: the layout of the
 * entries in registry/packages/ (cJSON_Print indents with tabs). */
static void print_json(struct ipm_buf *b, const cJSON *v, int depth)
{
	int object = cJSON_IsObject(v);

	if (!object && !cJSON_IsArray(v)) {
		char *text = cJSON_PrintUnformatted(v);
		ipm_buf_add(b, text);
		cJSON_free(text);
		return;
	}
	if (!v->child) {
		ipm_buf_add(b, object ? "{}" : "[]");
		return;
	}
	ipm_buf_addch(b, object ? '{' : '[');
	for (const cJSON *c = v->child; c; c = c->next) {
		ipm_buf_addch(b, '\n');
		add_indent(b, depth + 1);
		if (object) {
			add_json_string(b, c->string);
			ipm_buf_add(b, ": ");
		}
		print_json(b, c, depth + 1);
		if (c->next)
			ipm_buf_addch(b, ',');
	}
	ipm_buf_addch(b, '\n');
	add_indent(b, depth);
	ipm_buf_addch(b, object ? '}' : ']');
}

/*
 * Runs doc through the rules every entry follows. What the contributor is
 * told to fill in afterwards (description, a method) gets a placeholder here,
 * so that only what `registry new` itself wrote or was given is judged.
 */
static int check_doc(const cJSON *doc, const char *origin)
{
	cJSON *copy = cJSON_Duplicate(doc, 1);
	struct ipm_problems problems = { 0 };
	struct ipm_entry entry;
	char *text;
	int rc;

	memset(&entry, 0, sizeof(entry));
	if (!cJSON_GetObjectItemCaseSensitive(copy, "description"))
		cJSON_AddStringToObject(copy, "description", "placeholder");
	if (!cJSON_GetObjectItemCaseSensitive(copy, "methods")) {
		cJSON *method = cJSON_CreateObject();
		static const char *const install[] = { "true" };
		add_string_array(method, "install", install, 1);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(copy, "methods"), method);
	}
	text = cJSON_PrintUnformatted(copy);
	rc = ipm_entry_check(&entry, &problems, text, strlen(text), origin, 0);
	if (rc == 0) {
		ipm_entry_release(&entry);
	} else if (problems.n > 1) {
		char *msg = xstrdup(ipm_error_message());
		char *hint = xstrdup(ipm_error_hint_text());
		ipm_error_set(rc, "%s (and %zu more problem%s)", msg, problems.n - 1,
			      problems.n > 2 ? "s" : "");
		if (hint)
			ipm_error_hint("%s", hint);
		free(msg);
		free(hint);
	}
	ipm_problems_release(&problems);
	cJSON_free(text);
	cJSON_Delete(copy);
	return rc;
}

/* ---- git sources ---- */

static int git_fail(int code, const char *subject)
{
	const git_error *e = git_error_last();
	return ipm_error_set(code, "'%s': %s", subject, e && e->message ? e->message : "unknown libgit2 error");
}

struct tag_candidate {
	char *name;
	char *version;   /* from the name, or NULL */
};

static int cmp_candidates_newest_first(const void *a, const void *b)
{
	const struct tag_candidate *x = a, *y = b;
	if (x->version && y->version) {
		int c = ipm_version_cmp(y->version, x->version);
		if (c)
			return c;
	} else if (x->version || y->version) {
		return x->version ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}

struct tag_list {
	git_repository *repo;
	const git_oid *commit;   /* NULL: every tag */
	struct tag_candidate *items;
	size_t n, alloc;
};

static void tag_list_release(struct tag_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].name);
		free(l->items[i].version);
	}
	free(l->items);
}

static int on_tag(const char *refname, git_oid *oid, void *payload)
{
	struct tag_list *l = payload;
	const char *name = refname;

	if (strncmp(name, "refs/tags/", 10) == 0)
		name += 10;
	if (l->commit) {
		git_object *obj = NULL, *peeled = NULL;
		int same = git_object_lookup(&obj, l->repo, oid, GIT_OBJECT_ANY) == 0 &&
			   git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) == 0 &&
			   git_oid_equal(git_object_id(peeled), l->commit);
		git_object_free(peeled);
		git_object_free(obj);
		if (!same)
			return 0;
	}
	XGROW(l->items, l->alloc, l->n + 1);
	l->items[l->n].name = xstrdup(name);
	l->items[l->n].version = ipm_scaffold_version_from_tag(name);
	l->n++;
	return 0;
}

/* Tags of repo (those pointing at commit when not NULL), newest version first. */
static int list_tags(struct tag_list *out, git_repository *repo, const git_oid *commit)
{
	memset(out, 0, sizeof(*out));
	out->repo = repo;
	out->commit = commit;
	if (git_tag_foreach(repo, on_tag, out) < 0 && git_error_last()) {
		tag_list_release(out);
		memset(out, 0, sizeof(*out));
		return git_fail(IPM_ERROR, git_repository_path(repo));
	}
	if (out->n)
		qsort(out->items, out->n, sizeof(out->items[0]), cmp_candidates_newest_first);
	return 0;
}

static int unknown_tag(git_repository *repo, const char *url, const char *tag)
{
	struct tag_list tags;
	struct ipm_buf shown = IPM_BUF_INIT;
	int rc = list_tags(&tags, repo, NULL);

	if (rc < 0)
		return rc;
	rc = ipm_error_set(IPM_ENOTFOUND, "tag '%s' not found in '%s'", tag, url);
	if (!tags.n) {
		ipm_error_hint("'%s' has no tags: leave out --tag to pin its default branch", url);
	} else {
		for (size_t i = 0; i < tags.n && i < 5; i++)
			ipm_buf_addf(&shown, "%s%s", i ? ", " : "", tags.items[i].name);
		if (tags.n > 5)
			ipm_buf_addf(&shown, " (newest first, %zu in all)", tags.n);
		ipm_error_hint("tags in '%s': %s", url, shown.ptr);
	}
	ipm_buf_release(&shown);
	tag_list_release(&tags);
	return rc;
}

/* The text of blob entry, or NULL for a binary, too large or absent one
 * (a partial clone may lack it). */
static char *blob_text(git_repository *repo, const git_tree_entry *entry)
{
	git_blob *blob = NULL;
	char *text = NULL;

	if (!entry || git_tree_entry_type(entry) != GIT_OBJECT_BLOB ||
	    git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) < 0) {
		git_error_clear();
		return NULL;
	}
	if (git_blob_rawsize(blob) <= 1024 * 1024) {
		size_t len = (size_t)git_blob_rawsize(blob);
		const char *raw = git_blob_rawcontent(blob);
		if (!memchr(raw, '\0', len))
			text = xstrndup(raw, len);
	}
	git_blob_free(blob);
	return text;
}

static int header_walk(const char *root, const git_tree_entry *entry, void *payload)
{
	(void)root;
	if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB && is_header(git_tree_entry_name(entry))) {
		*(int *)payload = 1;
		return -1;   /* found: stop */
	}
	return 0;
}

/* The first of names (in that order, case ignored) at tree's top level. */
static const git_tree_entry *first_of(git_tree *tree, const char *const *names, size_t nnames)
{
	for (size_t k = 0; k < nnames; k++)
		for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
			const git_tree_entry *entry = git_tree_entry_byindex(tree, i);
			if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB &&
			    strcasecmp(git_tree_entry_name(entry), names[k]) == 0)
				return entry;
		}
	return NULL;
}

/* What the guess and the detectors read besides file names: the Makefile,
 * the README, the license file, and whether include/ holds headers. */
static void read_texts(struct pinned *p, git_repository *repo, git_tree *tree)
{
	static const char *const makefiles[] = { "GNUmakefile", "makefile", "Makefile" };
	static const char *const readmes[] = { "README.md", "README.markdown", "README.rst", "README.txt",
					       "README", "README.adoc" };
	static const char *const licenses[] = { "LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE",
						"LICENCE.md", "LICENCE.txt", "COPYING", "COPYING.md",
						"COPYING.txt", "UNLICENSE", "LICENSE-MIT", "COPYRIGHT" };
	const git_tree_entry *entry;
	git_tree_entry *include = NULL;
	git_tree *include_tree = NULL;

	/* GNU make reads GNUmakefile, then makefile, then Makefile (exact case). */
	for (size_t k = 0; k < 3 && !p->makefile; k++)
		if ((entry = git_tree_entry_byname(tree, makefiles[k])))
			p->makefile = blob_text(repo, entry);
	if ((entry = git_tree_entry_byname(tree, "CMakeLists.txt")))
		p->cmakelists = blob_text(repo, entry);
	if ((entry = first_of(tree, readmes, sizeof(readmes) / sizeof(readmes[0]))) &&
	    (p->readme = blob_text(repo, entry)))
		p->readme_name = xstrdup(git_tree_entry_name(entry));
	if ((entry = first_of(tree, licenses, sizeof(licenses) / sizeof(licenses[0]))) &&
	    (p->license = blob_text(repo, entry)))
		p->license_name = xstrdup(git_tree_entry_name(entry));
	if (git_tree_entry_bypath(&include, tree, "include") == 0 &&
	    git_tree_entry_type(include) == GIT_OBJECT_TREE &&
	    git_tree_lookup(&include_tree, repo, git_tree_entry_id(include)) == 0)
		git_tree_walk(include_tree, GIT_TREEWALK_PRE, header_walk, &p->include_headers);
	git_error_clear();
	git_tree_free(include_tree);
	git_tree_entry_free(include);
}

/* Pins url at tag (annotated tags peeled to their commit) or, without one,
 * at commit (a full id) or the default branch's HEAD, and the tag pointing
 * at it, if any. */
static int pin_git(struct pinned *p, const struct ipm_fetch_ctx *ctx, const char *url, const char *tag,
		   const char *commit)
{
	char *dir = NULL, *head = NULL, *refname = NULL;
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_object *peeled = NULL;
	git_tree *tree = NULL;
	struct tag_list at_head = { 0 };
	char hex[GIT_OID_HEXSZ + 1];
	git_oid oid;
	int rc;

	if ((rc = ipm_git_mirror(&dir, &head, ctx, url)) < 0) {
		if (!ipm_error_hint_text())
			ipm_error_hint("check the URL: it must be a git repository that 'git clone' can read");
		goto done;
	}
	if (git_repository_open_bare(&repo, dir) < 0) {
		rc = git_fail(IPM_ERROR, dir);
		goto done;
	}
	if (tag) {
		refname = xasprintf("refs/tags/%s", tag);
		if (git_reference_lookup(&ref, repo, refname) < 0) {
			rc = unknown_tag(repo, url, tag);
			goto done;
		}
		if (git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) < 0) {
			rc = ipm_error_set(IPM_EINVAL, "tag '%s' of '%s' does not point at a commit", tag, url);
			goto done;
		}
		p->tag = xstrdup(tag);
	} else {
		if (git_oid_fromstr(&oid, commit ? commit : head) < 0 ||
		    git_object_lookup(&peeled, repo, &oid, GIT_OBJECT_COMMIT) < 0) {
			rc = git_fail(IPM_ERROR, url);
			goto done;
		}
		if ((rc = list_tags(&at_head, repo, git_object_id(peeled))) < 0)
			goto done;
		if (at_head.n)
			p->tag = xstrdup(at_head.items[0].name);
	}
	git_oid_tostr(hex, sizeof(hex), git_object_id(peeled));
	p->commit = xstrdup(hex);

	/* The top level of the commit's tree is all the guess needs. */
	if (git_commit_tree(&tree, (git_commit *)peeled) < 0) {
		rc = git_fail(IPM_ERROR, url);
		goto done;
	}
	for (size_t i = 0; i < git_tree_entrycount(tree); i++) {
		const git_tree_entry *entry = git_tree_entry_byindex(tree, i);
		if (git_tree_entry_type(entry) == GIT_OBJECT_BLOB)
			pinned_add_file(p, git_tree_entry_name(entry));
	}
	read_texts(p, repo, tree);
done:
	tag_list_release(&at_head);
	git_tree_free(tree);
	git_object_free(peeled);
	git_reference_free(ref);
	git_repository_free(repo);
	free(refname);
	free(head);
	free(dir);
	return rc;
}

/* ---- archive sources ---- */

struct member {
	char *path;   /* without "./" and trailing '/' */
	int is_file;  /* regular file or symlink */
};

/* Lists the top-level files of archive (a single top-level directory
 * stripped, as ipm_archive_extract does) without extracting anything. */
static int list_archive(struct pinned *p, const char *archive_path, const char *url)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	struct member *members = NULL;
	size_t n = 0, alloc = 0;
	char *top = NULL;
	int single_top = 1, top_has_children = 0, r, rc = 0;

	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, archive_path, 65536) != ARCHIVE_OK) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not an archive: %s", url, archive_error_string(a));
		goto not_archive;
	}
	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(entry);
		mode_t type = archive_entry_filetype(entry);
		size_t len, first;

		while (name && name[0] == '.' && name[1] == '/')
			name += 2;
		while (name && name[0] == '/')
			name++;
		if (!name || !*name || strcmp(name, ".") == 0)
			continue;
		len = strlen(name);
		while (len > 0 && name[len - 1] == '/')
			len--;
		XGROW(members, alloc, n + 1);
		members[n].path = xstrndup(name, len);
		members[n].is_file = type == AE_IFREG || type == AE_IFLNK;
		first = strcspn(members[n].path, "/");
		if (!top)
			top = xstrndup(members[n].path, first);
		if (strlen(top) != first || strncmp(top, members[n].path, first) != 0)
			single_top = 0;
		else if (members[n].path[first] == '/')
			top_has_children = 1;
		else if (members[n].is_file)
			single_top = 0;
		n++;
		archive_read_data_skip(a);
	}
	if (r != ARCHIVE_EOF) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not an archive: %s", url, archive_error_string(a));
		goto not_archive;
	}
	if (n == 0) {
		rc = ipm_error_set(IPM_EINVAL, "'%s' is not an archive: it holds no files", url);
		goto not_archive;
	}
	for (size_t i = 0; i < n; i++) {
		const char *rel = members[i].path;
		if (!members[i].is_file)
			continue;
		if (single_top && top_has_children)
			rel += strlen(top) + 1;
		if (!strchr(rel, '/'))
			pinned_add_file(p, rel);
	}
	goto done;
not_archive:
	ipm_error_hint("give the URL of a release archive (.tar.gz, .tar.xz, .tar.bz2 or .zip)");
done:
	for (size_t i = 0; i < n; i++)
		free(members[i].path);
	free(members);
	free(top);
	archive_read_free(a);
	return rc;
}

/* Downloads url into a private temporary directory (removed afterwards),
 * hashes it and lists its top level. */
static int pin_archive(struct pinned *p, const struct ipm_fetch_ctx *ctx, const char *url)
{
	const char *tmp_root = getenv("TMPDIR");
	char *tmp_dir = xasprintf("%s/ipm-new-XXXXXX", tmp_root && *tmp_root ? tmp_root : "/tmp");
	char *file = NULL;
	char sum[65];
	struct stat st;
	int rc = 0;

	if (!mkdtemp(tmp_dir)) {
		rc = ipm_error_set(IPM_ERROR, "cannot create a directory like '%s': %s", tmp_dir, strerror(errno));
		free(tmp_dir);
		return rc;
	}
	file = xasprintf("%s/download", tmp_dir);
	if ((rc = ipm_http_download(ctx, url, file)) < 0) {
		if (!ipm_error_hint_text())
			ipm_error_hint("check the URL: it must be the download link of a release archive");
		goto done;
	}
	if ((rc = ipm_sha256_file(sum, file)) < 0)
		goto done;
	p->sha256 = xstrdup(sum);
	/* the size lets an install abandon a wrong download as soon as it
	 * outgrows it, instead of at the end, by its sha256 */
	if (stat(file, &st) == 0 && st.st_size > 0)
		p->size = (unsigned long long)st.st_size;
	rc = list_archive(p, file, url);
done:
	ipm_rm_rf_quietly(tmp_dir);
	free(file);
	free(tmp_dir);
	return rc;
}

/* ---- the whole ---- */

void ipm_scaffold_release(struct ipm_scaffold *s)
{
	if (!s)
		return;
	free(s->json);
	free(s->version);
	free(s->version_from);
	free(s->commit);
	free(s->tag);
	free(s->sha256);
	free(s->found);
	free(s->methods);
	free(s->missing);
	free(s->description_from);
	free(s->license_from);
	memset(s, 0, sizeof(*s));
}

static void add_listed(struct ipm_buf *b, const char *item)
{
	ipm_buf_addf(b, "%s%s", b->len ? ", " : "", item);
}

/* Decides the version: --version, else the tag, else the file name. */
static int pick_version(struct pinned *p, char **from, const struct ipm_scaffold_opts *opts)
{
	if (opts->version) {
		p->version = xstrdup(opts->version);
		*from = xstrdup("--version");
		return 0;
	}
	if (opts->git) {
		if (p->tag && (p->version = ipm_scaffold_version_from_tag(p->tag))) {
			*from = xasprintf("tag '%s'", p->tag);
			return 0;
		}
		if (p->tag)
			ipm_error_set(IPM_EINVAL, "cannot tell a version from tag '%s' of '%s'", p->tag, opts->git);
		else
			ipm_error_set(IPM_EINVAL, "cannot tell the version of commit '%s' of '%s': no tag points at it",
				      p->commit, opts->git);
		ipm_error_hint("give it with --version VERSION (e.g. --version 1.2.3)");
		return IPM_EINVAL;
	}
	if ((p->version = ipm_scaffold_version_from_url(opts->url))) {
		char *file = url_file_name(opts->url);
		*from = xasprintf("file name '%s'", file);
		free(file);
		return 0;
	}
	ipm_error_set(IPM_EINVAL, "cannot tell a version from the file name of '%s'", opts->url);
	ipm_error_hint("give it with --version VERSION (e.g. --version 1.2.3)");
	return IPM_EINVAL;
}

int ipm_scaffold_make(struct ipm_scaffold *out, const struct ipm_fetch_ctx *ctx,
		      const struct ipm_scaffold_opts *opts)
{
	static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
	struct pinned p = { 0 };
	struct ipm_buf found = IPM_BUF_INIT, methods = IPM_BUF_INIT, missing = IPM_BUF_INIT;
	const char *names[IPM_SCAFFOLD_MAX_METHODS];
	struct ipm_scaffold_method recipes[IPM_SCAFFOLD_MAX_METHODS];
	struct ipm_scaffold_opts filled = *opts;
	struct ipm_scaffold_tree tree;
	char *description = NULL;
	const char *license = NULL;
	size_t nnames = 0, nrecipes = 0;
	cJSON *doc = NULL;
	struct ipm_buf text = IPM_BUF_INIT;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!opts->name || !opts->path)
		return ipm_error_set(IPM_EINVAL, "a new entry needs a name and a path");
	if (!opts->git == !opts->url)
		return ipm_error_set(IPM_EINVAL, "a new entry needs exactly one source: a git URL or an archive URL");
	if (opts->tag && !opts->git)
		return ipm_error_set(IPM_EINVAL, "a tag names a release of a git source, not of an archive");

	/* What was given is judged before anything is fetched. */
	p.version = xstrdup(opts->version ? opts->version : "0");
	p.commit = xstrndup(zeros, 40);
	p.sha256 = xstrdup(zeros);
	p.tag = xstrdup(opts->tag);
	doc = build_doc(opts, &p, NULL, 0);
	rc = check_doc(doc, opts->path);
	cJSON_Delete(doc);
	doc = NULL;
	pinned_release(&p);
	if (rc < 0)
		goto done;
	if (ipm_path_exists(opts->path)) {
		rc = ipm_error_set(IPM_EEXISTS, "'%s' already exists", opts->path);
		ipm_error_hint("add a release to its \"versions\" by hand, or remove the file to start again");
		goto done;
	}

	rc = opts->git ? pin_git(&p, ctx, opts->git, opts->tag, opts->commit) : pin_archive(&p, ctx, opts->url);
	if (rc < 0)
		goto done;
	if ((rc = pick_version(&p, &out->version_from, opts)) < 0)
		goto done;

	tree.files = p.files;
	tree.nfiles = p.nfiles;
	tree.include_headers = p.include_headers;
	tree.makefile = p.makefile;
	tree.cmakelists = p.cmakelists;
	tree.name = opts->name;
	nnames = ipm_scaffold_guess_tree(names, &tree);
	for (; nrecipes < nnames; nrecipes++)
		if ((rc = ipm_scaffold_method(&recipes[nrecipes], names[nrecipes], &tree)) < 0)
			goto done;
	/* What the repository says about itself fills what was not given. */
	if (!filled.description && p.readme && ipm_detect_description(&description, p.readme) == 0) {
		filled.description = description;
		out->description_from = xstrdup(p.readme_name);
	}
	if (!filled.license && p.license && ipm_detect_license(&license, p.license) == 0) {
		filled.license = license;
		out->license_from = xstrdup(p.license_name);
	}
	doc = build_doc(&filled, &p, recipes, nnames);
	if ((rc = check_doc(doc, opts->path)) < 0)
		goto done;
	print_json(&text, doc, 0);
	ipm_buf_addch(&text, '\n');

	for (size_t i = 0; i < sizeof(build_files) / sizeof(build_files[0]); i++)
		if (has_file(p.files, p.nfiles, build_files[i]))
			add_listed(&found, build_files[i]);
	/* a header-only library is found by its headers */
	if (nnames && strcmp(names[0], "headers") == 0) {
		if (p.include_headers)
			add_listed(&found, "include/");
		else
			for (size_t i = 0; i < p.nfiles; i++)
				if (is_header(p.files[i]))
					add_listed(&found, p.files[i]);
	}
	for (size_t i = 0; i < nnames; i++)
		add_listed(&methods, names[i]);
	if (!nnames)
		add_listed(&missing, "methods");
	if (!filled.description)
		add_listed(&missing, "description");
	if (!filled.license)
		add_listed(&missing, "license");
	add_listed(&missing, "keywords");

	out->json = ipm_buf_detach(&text);
	out->version = p.version;
	out->commit = p.commit;
	out->tag = p.tag;
	out->sha256 = p.sha256;
	p.version = p.commit = p.tag = p.sha256 = NULL;
	out->found = ipm_buf_detach(&found);
	out->methods = ipm_buf_detach(&methods);
	out->missing = ipm_buf_detach(&missing);
done:
	if (rc < 0)
		ipm_scaffold_release(out);
	cJSON_Delete(doc);
	for (size_t i = 0; i < nrecipes; i++)
		ipm_scaffold_method_release(&recipes[i]);
	free(description);
	pinned_release(&p);
	ipm_buf_release(&text);
	ipm_buf_release(&found);
	ipm_buf_release(&methods);
	ipm_buf_release(&missing);
	return rc;
}

int ipm_scaffold_write(const char *path, const char *json)
{
	char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	size_t len = strlen(json), off = 0;
	int fd = -1, rc = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
		goto done;
	}
	while (off < len) {
		ssize_t n = write(fd, json + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
			goto done;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	/* link() refuses an existing name, unlike rename(): a file that
	 * appeared meanwhile is never replaced. */
	if (link(tmp, path) < 0) {
		if (errno == EEXIST) {
			rc = ipm_error_set(IPM_EEXISTS, "'%s' already exists", path);
			ipm_error_hint("add a release to its \"versions\" by hand, or remove the file to start again");
		} else {
			rc = ipm_error_set(IPM_ERROR, "cannot write '%s': %s", path, strerror(errno));
		}
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

int ipm_scaffold_registry_dir(char **out_dir, const char *dir)
{
	char *packages;

	*out_dir = NULL;
	if (dir) {
		packages = xasprintf("%s/packages", dir);
		if (!ipm_is_dir(packages)) {
			int rc = ipm_error_set(IPM_ENOTFOUND, "'%s' is not a registry directory: '%s' does not exist",
					       dir, packages);
			ipm_error_hint("a registry directory holds registry.json and packages/; create it with 'mkdir -p %s'",
				       packages);
			free(packages);
			return rc;
		}
		free(packages);
		*out_dir = xstrdup(dir);
		return 0;
	}
	if (ipm_is_dir("registry/packages")) {
		*out_dir = xstrdup("registry");
		return 0;
	}
	if (ipm_is_dir("packages")) {
		*out_dir = xstrdup(".");
		return 0;
	}
	ipm_error_set(IPM_ENOTFOUND, "no registry here: neither 'registry/packages' nor 'packages' exists");
	ipm_error_hint("run it in a checkout of ipm or at the top of a registry, or give --dir REGISTRY_DIR");
	return IPM_ENOTFOUND;
}
