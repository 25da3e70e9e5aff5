/*
 * The article's worked example: the encoder output for "Let's" against the
 * decoder state, scored by cosine similarity and by the plain dot product,
 * then the softmax weights of a tiny two-word attention step.
 *
 *   cc examples/article.c $(pkg-config --cflags --libs attention)
 */
#include <attention.h>
#include <stdio.h>

int main(void)
{
    const float encoder_lets[2] = { -0.76f, 0.75f };
    const float decoder_state[2] = { 0.91f, 0.38f };

    printf("cosine similarity: %.2f\n", attn_cosine(encoder_lets, decoder_state, 2));
    printf("dot product: %.2f\n", attn_dot(encoder_lets, decoder_state, 2));

    /* A second encoder output, and how the decoder state weighs the two. */
    const float encoder[2][2] = { { -0.76f, 0.75f }, { 0.52f, 0.21f } };
    float weights[2], context[2];
    int rc = attn_attend(weights, context, decoder_state, &encoder[0][0], 2,
                         &encoder[0][0], 2, 2, 2, 2, 1.0f);
    if (rc != ATTN_OK) {
        fprintf(stderr, "article: %s\n", attn_strerror(rc));
        return 1;
    }
    printf("attention weights: %.2f %.2f\n", weights[0], weights[1]);
    printf("context vector: %.2f %.2f\n", context[0], context[1]);
    printf("library %s, kernels %s\n", attn_version(), attn_isa_name());
    return 0;
}
