using KubeBrain.Grains.Mvcc;
using KubeBrain.Grains.Storage;

namespace KubeBrain.Grains.KeyRange;

/// <summary>
/// Reads the values a key range no longer holds from the store, in one call for every request that needs some at
/// the same time: while one read is out, the versions asked for meanwhile wait and go together in the next, as a
/// range's writes go to the sequencer. It runs on its grain's scheduler, one turn at a time.
/// </summary>
internal sealed class ValueLoader(IMvccStore store, StoreMetrics metrics)
{
    private Batch? _next;
    private bool _reading;

    /// <summary>The values of <paramref name="versions"/> as the store holds them: null for one it no longer holds.</summary>
    public Task<Dictionary<KeyVersion, byte[]?>> ReadAsync(IEnumerable<KeyVersion> versions)
    {
        var batch = _next ??= new Batch();
        batch.Versions.UnionWith(versions);
        Pump();
        return batch.Values.Task;
    }

    private void Pump()
    {
        if (_reading || _next is not { } batch)
        {
            return;
        }
        _next = null;
        _reading = true;
        _ = ReadBatchAsync(batch);
    }

    private async Task ReadBatchAsync(Batch batch)
    {
        try
        {
            var versions = batch.Versions.ToList();
            var values = await metrics.TimeAsync(
                StoreRead.Values, () => store.ReadValuesAsync(versions.ConvertAll(v => new KeyRevision(v.Key, v.Revision)), CancellationToken.None));
            var byVersion = new Dictionary<KeyVersion, byte[]?>(versions.Count, ReferenceEqualityComparer.Instance);
            for (var i = 0; i < versions.Count; i++)
            {
                byVersion[versions[i]] = values[i];
            }
            batch.Values.SetResult(byVersion);
        }
        catch (Exception failure)
        {
            batch.Values.SetException(failure);
        }
        finally
        {
            _reading = false;
            Pump();
        }
    }

    private sealed class Batch
    {
        public HashSet<KeyVersion> Versions { get; } = new(ReferenceEqualityComparer.Instance);

        public TaskCompletionSource<Dictionary<KeyVersion, byte[]?>> Values { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
