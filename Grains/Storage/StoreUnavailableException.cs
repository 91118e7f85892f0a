namespace KubeBrain.Grains.Storage;

/// <summary>
/// The store could not carry out a request for now; clients see etcd's <c>Unavailable</c>. Nothing was
/// committed on its behalf.
/// </summary>
[GenerateSerializer, Alias("kb.StoreUnavailableException")]
public sealed class StoreUnavailableException(string message, Exception? innerException) : Exception(message, innerException);
