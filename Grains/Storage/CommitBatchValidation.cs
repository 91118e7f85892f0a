namespace KubeBrain.Grains.Storage;

/// <summary>The shape checks every store makes on a <see cref="CommitBatch"/> before writing anything.</summary>
internal static class CommitBatchValidation
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless the rows are exactly the revisions first..last in order,
    /// each numbered by sub from 0.
    /// </summary>
    public static void Validate(CommitBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var rows = batch.Rows;
        if (rows.Count == 0)
        {
            throw new ArgumentException("A commit batch needs at least one row.", nameof(batch));
        }
        var expectedRevision = batch.FirstRevision;
        var expectedSub = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (i > 0 && row.Revision == expectedRevision + 1 && row.Sub == 0)
            {
                expectedRevision++;
                expectedSub = 0;
            }
            if (row.Revision != expectedRevision || row.Sub != expectedSub)
            {
                throw new ArgumentException(
                    $"Row {i} of the batch is ({row.Revision}, {row.Sub}); expected ({expectedRevision}, {expectedSub}) or ({expectedRevision + 1}, 0).",
                    nameof(batch));
            }
            expectedSub++;
        }
        if (expectedRevision != batch.LastRevision)
        {
            throw new ArgumentException(
                $"The batch declares revisions {batch.FirstRevision}..{batch.LastRevision} but its rows end at {expectedRevision}.",
                nameof(batch));
        }
    }
}
