namespace KubeBrain.Grains.Interfaces;

/// <summary>
/// The store could not carry out a write for now and nothing was committed on its behalf; clients see etcd's
/// <c>Unavailable</c>.
/// </summary>
[GenerateSerializer, Alias("kb.StoreUnavailableException")]
public sealed class StoreUnavailableException(string message, Exception? innerException) : Exception(message, innerException);
