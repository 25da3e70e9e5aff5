#ifndef IPM_DETECT_H
#define IPM_DETECT_H
/*
 * What a repository says about itself, read from its files' text: the
 * license (a LICENSE or COPYING file matched to its SPDX id) and a one-line
 * description (the README's first real paragraph). Pure functions of the
 * text; nothing is read from disk here.
 */

/*
 * The SPDX id of the license whose text (or short notice) text is, matched
 * against fingerprints of the common licenses: MIT, BSD-2-Clause,
 * BSD-3-Clause, BSD-4-Clause, Apache-2.0, GPL-2.0/GPL-3.0, LGPL-2.0/2.1/3.0,
 * AGPL-3.0, MPL-2.0, ISC, 0BSD, Zlib, Unlicense, BSL-1.0, CC0-1.0. For the GNU
 * licenses "-only" is written for a notice that names one version without
 * "any later version"; the full license text does not say which, and gets
 * "-or-later" (what the text's own "How to Apply" section recommends).
 * *spdx is a static string. IPM_ENOTFOUND (no message set) when nothing matches,
 * IPM_EINVAL for NULL text.
 */
int ipm_detect_license(const char **spdx, const char *text);

/*
 * A description from a README (Markdown, reStructuredText or plain text): its
 * first real paragraph, skipping headings, badges and images, HTML, code,
 * tables, lists, block quotes and link definitions; inline markup ([text](url),
 * `code`, **bold**) reduced to its text; cut to its first sentence (without
 * the final period) and to at most IPM_DETECT_DESCRIPTION_MAX bytes on a word
 * boundary. *out is allocated (caller frees). IPM_ENOTFOUND (no message set)
 * when no paragraph qualifies (one of fewer than three words is not taken).
 */
#define IPM_DETECT_DESCRIPTION_MAX 200
int ipm_detect_description(char **out, const char *readme_text);
#endif
