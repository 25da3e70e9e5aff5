#ifndef IPM_SIMILAR_H
#define IPM_SIMILAR_H
#include <stddef.h>
/*
 * Typo-tolerant matching of package names, built on the attention library:
 * a name becomes a hashed character n-gram vector, L2-normalised once (at
 * registry import), so that at query time the dot product is the cosine
 * similarity, scored for all names at once with the library's batched dot
 * product.
 */
#define IPM_SIMILAR_DIM 128

/* Fills vec[IPM_SIMILAR_DIM] for text (case, '-', '_' and '.' folded). */
void ipm_similar_vector(float *vec, const char *text);

struct ipm_similar_match {
	char *name;
	float score;   /* cosine similarity, 1 = same n-grams */
};
/* The best `max` names from the database's name vectors for query, best
 * first, score >= min_score. */
struct ipm_db;
int ipm_similar_find(struct ipm_similar_match **out, size_t *nout, struct ipm_db *db,
		     const char *query, size_t max, float min_score);
/* The same ranking over n given names and their vectors (row-major,
 * IPM_SIMILAR_DIM floats each); names are copied into the matches. */
int ipm_similar_rank(struct ipm_similar_match **out, size_t *nout, const char *const *names,
		     const float *vecs, size_t n, const char *query, size_t max, float min_score);
void ipm_similar_matches_free(struct ipm_similar_match *m, size_t n);

/* Levenshtein distance of a and b, in bytes: "did you mean" over short lists
 * (field names, license ids, one registry's names), where exact edits say
 * more than n-gram vectors. */
size_t ipm_edit_distance(const char *a, const char *b);
/* The same distance when it is at most max, else max + 1, in O(max * length)
 * time: what a "did you mean" needs, since only close matches are offered,
 * and cheap on long inputs (a 2 KiB string against 600 license ids).
 * IPM_EDIT_ICASE compares ASCII letters case-insensitively. */
#define IPM_EDIT_ICASE 1u
size_t ipm_edit_distance_max(const char *a, const char *b, size_t max, unsigned flags);
#endif
