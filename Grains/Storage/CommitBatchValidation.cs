namespace KubeBrain.Grains.Storage;

/// <summary>The shape checks every store makes on a <see cref="CommitBatch"/> before writing anything.</summary>
internal static class CommitBatchValidation
{
    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless the rows are exactly the revisions first..last in order,
    /// each numbered by sub from 0, and each row's <see cref="StoredRow.PrevRevision"/> fits it: below its own
    /// revision, above 0 for a tombstone, and 0 for a put exactly when it starts a generation (version 1). The SQLite
    /// store's purge finds the versions to remove through it, so a row that named no version where it replaced one
    /// would bring that version back.
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
            if (row.PrevRevision < 0 || row.PrevRevision >= row.Revision || (row.Tombstone ? row.PrevRevision == 0 : (row.Version == 1) != (row.PrevRevision == 0)))
            {
                throw new ArgumentException(
                    $"Row {i} of the batch ({(row.Tombstone ? "a tombstone" : $"version {row.Version}")} at revision {row.Revision}) names {row.PrevRevision} as the revision it replaces.",
                    nameof(batch));
            }
        }
        if (expectedRevision != batch.LastRevision)
        {
            throw new ArgumentException(
                $"The batch declares revisions {batch.FirstRevision}..{batch.LastRevision} but its rows end at {expectedRevision}.",
                nameof(batch));
        }
    }
}
