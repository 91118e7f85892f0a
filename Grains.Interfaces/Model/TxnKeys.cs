namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>What a transaction touches, over both branches and every nesting level.</summary>
public static class TxnKeys
{
    /// <summary>Every key and interval the transaction compares, reads or writes.</summary>
    public static List<KeySpan> SpansOf(TxnRequest txn)
    {
        var spans = new List<KeySpan>();
        Collect(txn, spans);
        return spans;
    }

    /// <summary>True when no branch at any level writes.</summary>
    public static bool IsReadOnly(TxnRequest txn) => txn.Success.All(IsReadOnly) && txn.Failure.All(IsReadOnly);

    /// <summary>The range owning every key the transaction touches, or null when they may span ranges.</summary>
    public static string? OwnerOf(TxnRequest txn)
    {
        string? owner = null;
        foreach (var span in SpansOf(txn))
        {
            var spanOwner = KeyRouter.OwnerOf(span);
            if (spanOwner is null || (owner is not null && owner != spanOwner))
            {
                return null;
            }
            owner = spanOwner;
        }
        return owner ?? KeyRouter.DefaultRange;
    }

    private static bool IsReadOnly(TxnOp op) => op switch
    {
        RangeOp => true,
        NestedTxnOp nested => IsReadOnly(nested.Txn),
        _ => false,
    };

    private static void Collect(TxnRequest txn, List<KeySpan> spans)
    {
        foreach (var compare in txn.Compares)
        {
            spans.Add(compare.Span);
        }
        foreach (var op in txn.Success.Concat(txn.Failure))
        {
            switch (op)
            {
                case RangeOp range:
                    spans.Add(range.Query.Span);
                    break;
                case PutOp put:
                    spans.Add(KeySpan.Single(put.Key));
                    break;
                case DeleteOp delete:
                    spans.Add(delete.Span);
                    break;
                case NestedTxnOp nested:
                    Collect(nested.Txn, spans);
                    break;
            }
        }
    }
}
