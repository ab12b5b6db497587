package ai.vl4j.zeroshot;

import ai.vl4j.tensor.Tensor;
import java.util.List;

/**
 * Candidate labels with the L2-normalised text embeddings of their templated texts, computed once: classifying an
 * image against the set is one image encoding plus one product [L, P] · [P].
 *
 * @param labels     the labels as given
 * @param template   the template their texts were made with ({@code {}} = the label)
 * @param embeddings [L, P] normalised text embeddings, row i for labels[i]
 */
public record LabelSet(List<String> labels, String template, Tensor embeddings) {
    public int size() {
        return labels.size();
    }
}
