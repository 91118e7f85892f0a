namespace KubeBrain.Silo;

/// <summary>
/// The SQLite data directory, held by this server from its start to its stop: an exclusive lock on
/// <see cref="FileName"/> in it, which the kernel releases when the process ends, however it ends. The embedded
/// store keeps the sequencer's time lease in its process, so a second server on the same directory would take the
/// next epoch and leave the first answering linearizable reads at a revision it no longer advances; instead the
/// second one fails to start, naming the directory. Registered before the silo, it is taken before the store opens
/// and released after the silo has stopped.
/// </summary>
internal sealed class DataDirectoryLock(string directory) : IHostedService, IDisposable
{
    /// <summary>The lock file inside the data directory.</summary>
    public const string FileName = "kubebrain.lock";

    private FileStream? _held;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(directory);
        Directory.CreateDirectory(path);
        try
        {
            // FileShare.None takes flock(LOCK_EX | LOCK_NB) on Unix: it fails at once while another process holds it.
            _held = new FileStream(Path.Combine(path, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"cannot lock the data directory {path}: {e.Message} Is another KubeBrain server running on it?", e);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _held?.Dispose();
        _held = null;
    }
}
