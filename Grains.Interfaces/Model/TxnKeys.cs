namespace KubeBrain.Grains.Interfaces.Model;

/// <summary>
/// What a transaction touches, over both branches and every nesting level. Every request asks for its owner and
/// whether it writes, so those two walk the transaction in place, without a key list or enumerators (a registry
/// key's range id is still a string of its own, see <see cref="KeyRouter.RangeOf"/>).
/// </summary>
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
    public static bool IsReadOnly(TxnRequest txn) => IsReadOnly(txn.Success) && IsReadOnly(txn.Failure);

    /// <summary>The range owning every key the transaction touches, or null when they may span ranges.</summary>
    public static string? OwnerOf(TxnRequest txn)
    {
        string? owner = null;
        return Own(txn, ref owner) ? owner ?? KeyRouter.DefaultRange : null;
    }

    private static bool IsReadOnly(IReadOnlyList<TxnOp> ops)
    {
        for (var i = 0; i < ops.Count; i++)
        {
            var readOnly = ops[i] switch
            {
                RangeOp => true,
                NestedTxnOp nested => IsReadOnly(nested.Txn),
                _ => false,
            };
            if (!readOnly)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Folds the owner of every span of <paramref name="txn"/> into <paramref name="owner"/>; false once two differ or one has none.</summary>
    private static bool Own(TxnRequest txn, ref string? owner)
    {
        for (var i = 0; i < txn.Compares.Count; i++)
        {
            if (!Own(KeyRouter.OwnerOf(txn.Compares[i].Span), ref owner))
            {
                return false;
            }
        }
        return Own(txn.Success, ref owner) && Own(txn.Failure, ref owner);
    }

    private static bool Own(IReadOnlyList<TxnOp> ops, ref string? owner)
    {
        for (var i = 0; i < ops.Count; i++)
        {
            var owns = ops[i] switch
            {
                RangeOp range => Own(KeyRouter.OwnerOf(range.Query.Span), ref owner),
                PutOp put => Own(KeyRouter.RangeOf(put.Key), ref owner),
                DeleteOp delete => Own(KeyRouter.OwnerOf(delete.Span), ref owner),
                NestedTxnOp nested => Own(nested.Txn, ref owner),
                _ => true,
            };
            if (!owns)
            {
                return false;
            }
        }
        return true;
    }

    private static bool Own(string? spanOwner, ref string? owner)
    {
        if (spanOwner is null || (owner is not null && owner != spanOwner))
        {
            return false;
        }
        owner = spanOwner;
        return true;
    }

    private static void Collect(TxnRequest txn, List<KeySpan> spans)
    {
        for (var i = 0; i < txn.Compares.Count; i++)
        {
            spans.Add(txn.Compares[i].Span);
        }
        Collect(txn.Success, spans);
        Collect(txn.Failure, spans);
    }

    private static void Collect(IReadOnlyList<TxnOp> ops, List<KeySpan> spans)
    {
        for (var i = 0; i < ops.Count; i++)
        {
            switch (ops[i])
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
