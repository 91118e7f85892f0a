using KubeBrain.Grains.Interfaces.Model;

namespace KubeBrain.Grains.Mvcc;

/// <summary>
/// One version of a key held in a key range's memory. A version accepted but not yet committed is pending:
/// its <see cref="Revision"/> is 0 until the sequencer assigns one, and its create and previous revisions may
/// still refer to other pending versions (the version that created the generation, the version it replaces).
/// <see cref="Settle"/> turns those references into numbers once everything is committed.
/// <para>
/// A committed version's value may leave memory (<see cref="Evict"/>) and come back from the store
/// (<see cref="Restore"/>); a pending version always holds its value, and the value of the version it replaces as
/// that was when it was accepted (the write's <c>prev_kv</c>), until it commits.
/// </para>
/// </summary>
internal sealed class KeyVersion
{
    private KeyVersion? _creator;
    private long _createRevision;
    private KeyVersion? _prev;
    private long _prevRevision;
    private byte[]? _prevValue;

    private KeyVersion(byte[] key, byte[] value, long lease, long version, bool tombstone)
    {
        Key = key;
        Value = value;
        Lease = lease;
        Version = version;
        Tombstone = tombstone;
    }

    public byte[] Key { get; }

    /// <summary>The value while it is in memory; null once evicted. Reads take values through a view (<see cref="IKvView.ValueOf"/>).</summary>
    public byte[]? Value { get; private set; }

    /// <summary>Set whenever a read takes the value from memory; the value cache clears it when it passes.</summary>
    public bool Referenced { get; set; }

    public long Lease { get; }

    /// <summary>Puts since the generation's creation; 0 for a tombstone.</summary>
    public long Version { get; }

    public bool Tombstone { get; }

    /// <summary>The revision that wrote this version; 0 while pending.</summary>
    public long Revision { get; set; }

    public bool IsPending => Revision == 0;

    /// <summary>The revision that created the generation; 0 for a tombstone or while its creator is pending.</summary>
    public long CreateRevision => _creator?.Revision ?? _createRevision;

    /// <summary>The version that created the generation while it is still pending, else null.</summary>
    public KeyVersion? PendingCreator => _creator is { IsPending: true } ? _creator : null;

    /// <summary>The replaced live version while it is still pending, else null.</summary>
    public KeyVersion? PendingPrev => _prev is { IsPending: true } ? _prev : null;

    /// <summary>The revision of the replaced live version; 0 if the key was absent.</summary>
    public long PrevRevision => _prev?.Revision ?? _prevRevision;

    /// <summary>A committed version read from the store.</summary>
    public static KeyVersion FromCommitted(KeyValue kv) =>
        new(kv.Key, kv.Value, kv.Lease, kv.Version, false) { Revision = kv.ModRevision, _createRevision = kv.CreateRevision };

    /// <summary>A committed version written by a multi-range group.</summary>
    public static KeyVersion FromWrite(KeyWrite write, long revision) =>
        new(write.Key, write.Value, write.Lease, write.Version, write.Tombstone)
        {
            Revision = revision,
            _createRevision = write.CreateRef >= 0 ? revision : write.CreateRevision,
            _prevRevision = write.PrevRevision,
        };

    /// <summary>
    /// A pending put replacing <paramref name="prev"/> (the live version, or null when the key is absent) whose value
    /// is <paramref name="prevValue"/>.
    /// </summary>
    public static KeyVersion NewPut(byte[] key, byte[] value, long lease, KeyVersion? prev, byte[] prevValue)
    {
        var version = new KeyVersion(key, value, lease, prev is null ? 1 : prev.Version + 1, false) { _prev = prev, _prevValue = prevValue };
        if (prev is null)
        {
            version._creator = version;
        }
        else if (prev._creator is not null)
        {
            version._creator = prev._creator;
        }
        else
        {
            version._createRevision = prev._createRevision;
        }
        return version;
    }

    /// <summary>
    /// A pending tombstone ending the generation of the live version <paramref name="prev"/>, whose value is
    /// <paramref name="prevValue"/>; it remembers the generation's create revision for the DELETE event's <c>prev_kv</c>.
    /// </summary>
    public static KeyVersion NewTombstone(KeyVersion prev, byte[] prevValue) =>
        new(prev.Key, [], 0, 0, true) { _prev = prev, _prevValue = prevValue, _creator = prev._creator, _createRevision = prev._createRevision };

    /// <summary>Once this version committed: replaces references to committed versions by their revisions, releasing them and the replaced value.</summary>
    public void Settle()
    {
        _prevValue = null;
        if (_creator is { IsPending: false })
        {
            _createRevision = _creator.Revision;
            _creator = null;
        }
        if (_prev is { IsPending: false })
        {
            _prevRevision = _prev.Revision;
            _prev = null;
        }
    }

    /// <summary>
    /// The write as the sequencer takes it, before this version commits: <paramref name="createRef"/> and
    /// <paramref name="prevRef"/> name pending create and previous versions by their revision's index in the
    /// submission (−1 when the revision is known).
    /// </summary>
    public KeyWrite ToWrite(int createRef, int prevRef, string rangeId) => new(
        Key, Value!, Lease, Version, Tombstone, CreateRevision, createRef, PrevRevision, prevRef, rangeId,
        _prev?.Version ?? 0, _prevValue ?? [], _prev?.Lease ?? 0);

    /// <summary>The etcd key-value of this (committed, live) version, with its <paramref name="value"/>.</summary>
    public KeyValue ToKeyValue(byte[] value) => new(Key, CreateRevision, Revision, Version, value, Lease);

    /// <summary>Drops the value of a committed version from memory.</summary>
    public void Evict() => Value = null;

    /// <summary>Puts back the value of an evicted version, as the store holds it.</summary>
    public void Restore(byte[] value) => Value = value;
}
