#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attention.h"
#include "ipm/db.h"
#include "ipm/error.h"
#include "ipm/similar.h"
#include "ipm/xalloc.h"

/*
 * Names are compared by their character n-grams: "^lz4$" gives the unigrams
 * l z 4, the bigrams ^l lz z4 4$ and the trigrams ^lz lz4 z4$. A typo
 * (transposition, missing letter) breaks a few n-grams and keeps most, so
 * the cosine between the vectors stays high. Case and the separators
 * '-', '_' and '.' are folded first, since users mix them freely.
 * Each n-gram is hashed into one of IPM_SIMILAR_DIM cells. Unigrams weigh
 * the most: they survive transpositions, the commonest typo, which break
 * the bigrams and trigrams around them (weights chosen on the misspelling
 * list of tests/unit/test_similar.c: 100% top-1 against 89.6% when longer
 * n-grams weighed more).
 */
static const float ngram_weight[4] = { 0.0f, 1.5f, 1.0f, 1.0f };

static uint32_t fnv1a(const char *s, size_t n, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static char fold(char c)
{
	if (c == '_' || c == '.' || c == ' ')
		return '-';
	return (char)tolower((unsigned char)c);
}

void ipm_similar_vector(float *vec, const char *text)
{
	size_t len = strlen(text);
	char *padded = xmalloc(len + 3);
	double norm = 0;

	padded[0] = '^';
	for (size_t i = 0; i < len; i++)
		padded[i + 1] = fold(text[i]);
	padded[len + 1] = '$';
	padded[len + 2] = '\0';

	memset(vec, 0, IPM_SIMILAR_DIM * sizeof(*vec));
	for (size_t n = 1; n <= 3; n++) {
		for (size_t i = 0; i + n <= len + 2; i++) {
			/* unigrams of the markers carry no information */
			if (n == 1 && (i == 0 || i == len + 1))
				continue;
			vec[fnv1a(padded + i, n, (uint32_t)n) % IPM_SIMILAR_DIM] += ngram_weight[n];
		}
	}
	for (size_t i = 0; i < IPM_SIMILAR_DIM; i++)
		norm += (double)vec[i] * vec[i];
	if (norm > 0) {
		float inv = (float)(1.0 / sqrt(norm));
		for (size_t i = 0; i < IPM_SIMILAR_DIM; i++)
			vec[i] *= inv;
	}
	free(padded);
}

static int by_score_desc(const void *a, const void *b)
{
	const struct ipm_similar_match *x = a, *y = b;
	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return strcmp(x->name, y->name);
}

int ipm_similar_rank(struct ipm_similar_match **out, size_t *nout, const char *const *names,
		     const float *vecs, size_t n, const char *query, size_t max, float min_score)
{
	struct ipm_similar_match *matches = NULL;
	float query_vec[IPM_SIMILAR_DIM];
	float *scores = NULL;
	size_t nmatches = 0;
	int status, rc = 0;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	ipm_similar_vector(query_vec, query);
	scores = xmalloc(n * sizeof(*scores));
	status = attn_dot_batch(scores, query_vec, vecs, n, IPM_SIMILAR_DIM, IPM_SIMILAR_DIM);
	if (status != ATTN_OK) {
		rc = ipm_error_set(IPM_ERROR, "cannot score package names: %s", attn_strerror(status));
		goto done;
	}
	matches = xcalloc(n, sizeof(*matches));
	for (size_t i = 0; i < n; i++) {
		if (scores[i] < min_score)
			continue;
		matches[nmatches].name = (char *)names[i];
		matches[nmatches].score = scores[i];
		nmatches++;
	}
	qsort(matches, nmatches, sizeof(*matches), by_score_desc);
	if (nmatches > max)
		nmatches = max;
	for (size_t i = 0; i < nmatches; i++)
		matches[i].name = xstrdup(matches[i].name);
	*out = matches;
	*nout = nmatches;
	matches = NULL;
done:
	free(matches);
	free(scores);
	return rc;
}

/*
 * The scan over every stored name: each block of vectors the database
 * decodes is scored at once with attn_dot_batch, and only the best `max`
 * names are kept (their names copied), so nothing grows with the registry.
 */
struct finder {
	float query[IPM_SIMILAR_DIM];
	float *scores;
	size_t max;
	float min_score;
	struct ipm_similar_match *best;   /* sorted best first, by_score_desc */
	size_t n, alloc;
	int rc;
};

/* Keeps (name, score) when it ranks among the best max. */
static void keep(struct finder *f, const char *name, float score)
{
	struct ipm_similar_match m = { (char *)name, score };
	size_t lo = 0, hi = f->n;

	if (f->n == f->max && by_score_desc(&m, &f->best[f->n - 1]) >= 0)
		return;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (by_score_desc(&f->best[mid], &m) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (f->n == f->max) {
		free(f->best[f->n - 1].name);
		f->n--;
	}
	XGROW(f->best, f->alloc, f->n + 1);
	memmove(&f->best[lo + 1], &f->best[lo], (f->n - lo) * sizeof(*f->best));
	f->best[lo].name = xstrdup(name);
	f->best[lo].score = score;
	f->n++;
}

static int score_block(void *ctx, const char *const *names, const float *vecs, size_t n, size_t dim)
{
	struct finder *f = ctx;
	int status;

	if (dim != IPM_SIMILAR_DIM)
		return 0;   /* written by another build; ignored until re-import */
	status = attn_dot_batch(f->scores, f->query, vecs, n, IPM_SIMILAR_DIM, IPM_SIMILAR_DIM);
	if (status != ATTN_OK) {
		f->rc = ipm_error_set(IPM_ERROR, "cannot score package names: %s", attn_strerror(status));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (f->scores[i] >= f->min_score)
			keep(f, names[i], f->scores[i]);
	return 0;
}

int ipm_similar_find(struct ipm_similar_match **out, size_t *nout, struct ipm_db *db,
		     const char *query, size_t max, float min_score)
{
	struct finder f = { .max = max, .min_score = min_score };
	int rc;

	*out = NULL;
	*nout = 0;
	if (max == 0)
		return 0;
	ipm_similar_vector(f.query, query);
	f.scores = xmalloc(IPM_DB_VECTOR_BLOCK * sizeof(*f.scores));
	rc = ipm_db_name_vector_blocks(db, score_block, &f);
	if (rc == 0)
		rc = f.rc;
	free(f.scores);
	if (rc < 0) {
		ipm_similar_matches_free(f.best, f.n);
		return rc;
	}
	*out = f.best;
	*nout = f.n;
	return 0;
}

void ipm_similar_matches_free(struct ipm_similar_match *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

size_t ipm_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));
	size_t result;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	result = row[lb];
	free(row);
	return result;
}

static unsigned char fold_ascii(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The DP of ipm_edit_distance restricted to the band |i - j| <= max (cells
 * outside it are more than max away), stopping once a whole row is over. */
size_t ipm_edit_distance_max(const char *a, const char *b, size_t max, unsigned flags)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t over = max + 1, result;
	size_t small[64], *row;

	if (max >= (size_t)-2)
		return ipm_edit_distance(a, b);
	if ((la > lb ? la - lb : lb - la) > max)
		return over;
	row = lb + 1 <= sizeof(small) / sizeof(small[0]) ? small : xcalloc(lb + 1, sizeof(*row));
	for (size_t j = 0; j <= lb; j++)
		row[j] = j <= max ? j : over;
	result = row[lb];
	for (size_t i = 1; i <= la; i++) {
		size_t lo = i > max ? i - max : 1, hi = i + max < lb ? i + max : lb;
		unsigned char ca = (unsigned char)a[i - 1];
		size_t diag = row[lo - 1], row_min;

		row[lo - 1] = lo == 1 && i <= max ? i : over;
		row_min = row[lo - 1];
		if (flags & IPM_EDIT_ICASE)
			ca = fold_ascii(ca);
		for (size_t j = lo; j <= hi; j++) {
			unsigned char cb = (unsigned char)b[j - 1];
			size_t up = row[j], best;

			if (flags & IPM_EDIT_ICASE)
				cb = fold_ascii(cb);
			best = diag + (ca == cb ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (best > over)
				best = over;
			row[j] = best;
			diag = up;
			if (best < row_min)
				row_min = best;
		}
		if (row_min > max) {
			result = over;
			goto done;
		}
	}
	result = row[lb] > max ? over : row[lb];
done:
	if (row != small)
		free(row);
	return result;
}
