using KubeBrain.Grains.Interfaces.Model;
using KubeBrain.Grains.Mvcc;
using Xunit;

namespace KubeBrain.Tests.Grains;

/// <summary>
/// The key index against a sorted model. Keys are short and random, so that spans start and end on present, absent,
/// first and last keys, and there are enough of them to split the index's chunks; they are inserted and removed in
/// random order, then all removed again, and all along every scan answers exactly the model's keys in order.
/// </summary>
public sealed class KeyIndexTests
{
    [Theory]
    [InlineData(1, 3_000)]
    [InlineData(2, 20_000)]
    [InlineData(3, 60_000)]
    public void ScansAnswerTheKeysOfTheSpanInOrderThroughInsertsAndRemovals(int seed, int operations)
    {
        var random = new Random(seed);
        var index = new KeyIndex();
        var model = new SortedSet<byte[]>(ByteKeyComparer.Instance);
        for (var op = 0; op < operations; op++)
        {
            var key = RandomKey(random);
            if (random.Next(3) == 0)
            {
                if (index.Find(key) is { } history)
                {
                    index.Remove(history);
                }
                model.Remove(key);
            }
            else
            {
                Assert.Same(index.GetOrAdd(key), index.GetOrAdd(key));
                model.Add(key);
            }
            if (op % 97 == 0)
            {
                AssertSameKeys(index, model, random);
            }
        }
        var remaining = model.OrderBy(_ => random.Next()).ToList();
        for (var i = 0; i < remaining.Count; i++)
        {
            index.Remove(index.Find(remaining[i])!);
            model.Remove(remaining[i]);
            if (i % 97 == 0)
            {
                AssertSameKeys(index, model, random);
            }
        }
        AssertSameKeys(index, model, random);
    }

    [Theory]
    [InlineData("add a key before the first step")]
    [InlineData("add a key during the walk")]
    [InlineData("remove a key during the walk")]
    [InlineData("add a key after the last step")]
    public void AWalkRefusesToGoOnAfterAKeyWasAddedOrRemoved(string change)
    {
        var index = Letters("a", "b", "c");
        var walk = index.Scan(new KeySpan("a"u8.ToArray(), [])).GetEnumerator();
        var steps = change switch
        {
            "add a key before the first step" => 0,
            "add a key after the last step" => 3,
            _ => 1,
        };
        for (var i = 0; i < steps; i++)
        {
            Assert.True(walk.MoveNext());
        }
        if (change.StartsWith("remove", StringComparison.Ordinal))
        {
            index.Remove(index.Find("c"u8.ToArray())!);
        }
        else
        {
            index.GetOrAdd("bb"u8.ToArray());
        }
        Assert.Throws<InvalidOperationException>(() => walk.MoveNext());
    }

    [Fact]
    public void AWalkGoesOnWhenAKeyAlreadyPresentIsLookedUpOrAdded()
    {
        var index = Letters("a", "b", "c");
        var walked = new List<string>();
        foreach (var history in index.All)
        {
            walked.Add(Convert.ToHexString(history.Key));
            index.GetOrAdd("c"u8.ToArray());
        }
        Assert.Equal(["61", "62", "63"], walked);
    }

    [Fact]
    public void KeysAddedInOrderThenAmongThemScanLikeTheModel()
    {
        var random = new Random(4);
        var index = new KeyIndex();
        var model = new SortedSet<byte[]>(ByteKeyComparer.Instance);
        for (var i = 0; i < 3_000; i++)
        {
            byte[] key = [0x41, (byte)(i >> 8), (byte)i];
            index.GetOrAdd(key);
            model.Add(key);
            if (i % 97 == 0)
            {
                AssertSameKeys(index, model, random);
            }
        }
        for (var i = 0; i < 3_000; i++)
        {
            byte[] key = [0x41, (byte)random.Next(12), (byte)random.Next(256), 0x00];
            index.GetOrAdd(key);
            model.Add(key);
            if (i % 97 == 0)
            {
                AssertSameKeys(index, model, random);
            }
        }
        AssertSameKeys(index, model, random);
    }

    private static KeyIndex Letters(params string[] keys)
    {
        var index = new KeyIndex();
        foreach (var key in keys)
        {
            index.GetOrAdd(System.Text.Encoding.ASCII.GetBytes(key));
        }
        return index;
    }

    private static void AssertSameKeys(KeyIndex index, SortedSet<byte[]> model, Random random)
    {
        var span = RandomSpan(random);
        Assert.Equal(Hex(model.Where(k => span.Contains(k))), Hex(index.Scan(span).Select(h => h.Key)));
        Assert.Equal(Hex(model), Hex(index.All.Select(h => h.Key)));
        Assert.Equal(model.Count, index.Count);
    }

    /// <summary>A key of one to five bytes from a small alphabet, 0x00 and 0xff included.</summary>
    private static byte[] RandomKey(Random random)
    {
        byte[] alphabet = [0x00, 0x01, 0x41, 0x7f, 0x80, 0xfe, 0xff];
        var key = new byte[random.Next(1, 6)];
        for (var i = 0; i < key.Length; i++)
        {
            key[i] = alphabet[random.Next(alphabet.Length)];
        }
        return key;
    }

    private static KeySpan RandomSpan(Random random) => random.Next(4) switch
    {
        0 => KeySpan.Single(RandomKey(random)),
        1 => new KeySpan(RandomKey(random), []),
        2 => new KeySpan([0x00], []),
        _ => new KeySpan(RandomKey(random), RandomKey(random)),
    };

    private static List<string> Hex(IEnumerable<byte[]> keys) => [.. keys.Select(Convert.ToHexString)];
}
