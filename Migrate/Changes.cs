using Google.Protobuf;
using Mvcc = KubeBrain.Protos.Mvccpb;

namespace KubeBrain.Migrate;

/// <summary>A key's new state for the target: a value with its lease (0 for none), or deleted (no value).</summary>
internal readonly record struct Change(ByteString Key, ByteString? Value, long Lease)
{
    public static Change Put(Mvcc.KeyValue kv) => new(kv.Key, kv.Value, kv.Lease);

    public static Change Delete(ByteString key) => new(key, null, 0);

    public int Size => Key.Length + (Value?.Length ?? 0);
}

/// <summary>
/// Changes gathered for one txn on the target: distinct keys (a txn may not touch a key twice, and changes to
/// distinct keys may be applied in any order), at most <see cref="MaxOps"/> (etcd's limit is 128) and about
/// <see cref="MaxBytes"/> (etcd's request limit is 1.5 MiB; a single larger value goes alone).
/// </summary>
internal sealed class ChangeBatch
{
    public const int MaxOps = 100;
    public const int MaxBytes = 1 << 20;

    private readonly List<Change> _changes = [];
    private readonly HashSet<ByteString> _keys = [];
    private int _bytes;

    public int Count => _changes.Count;

    /// <summary>Adds <paramref name="change"/> unless the batch is full or already changes its key.</summary>
    public bool TryAdd(Change change)
    {
        if (_changes.Count > 0 && (_changes.Count >= MaxOps || _bytes + change.Size > MaxBytes || _keys.Contains(change.Key)))
        {
            return false;
        }
        _changes.Add(change);
        _keys.Add(change.Key);
        _bytes += change.Size;
        return true;
    }

    /// <summary>The gathered changes; the batch starts over empty.</summary>
    public Change[] Take()
    {
        var changes = _changes.ToArray();
        _changes.Clear();
        _keys.Clear();
        _bytes = 0;
        return changes;
    }
}
