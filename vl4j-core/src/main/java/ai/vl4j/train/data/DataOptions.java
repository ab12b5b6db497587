package ai.vl4j.train.data;

/**
 * How {@link TrainingData#open} treats bad lines and images.
 *
 * @param skipBad         skip bad lines (counted, the first reasons kept in the {@link DataReport}) instead of
 *                        failing on the first one
 * @param reportedReasons how many skipped lines' messages the report keeps
 * @param imageCheck      how far each image is checked up front (default HEADER: no pixels decoded)
 */
public record DataOptions(boolean skipBad, int reportedReasons, ImageCheck imageCheck) {
    /** Fail on the first bad line; check image headers. */
    public static final DataOptions DEFAULT = new DataOptions(false, 10, ImageCheck.HEADER);

    public DataOptions {
        if (reportedReasons < 0) {
            throw new IllegalArgumentException("reportedReasons must be >= 0");
        }
        if (imageCheck == null) {
            throw new IllegalArgumentException("imageCheck is required");
        }
    }

    public DataOptions withSkipBad(boolean skip) {
        return new DataOptions(skip, reportedReasons, imageCheck);
    }

    public DataOptions withImageCheck(ImageCheck check) {
        return new DataOptions(skipBad, reportedReasons, check);
    }
}
