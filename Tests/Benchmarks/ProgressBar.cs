using System.Diagnostics;
using System.Globalization;

namespace KubeBrain.Benchmarks;

/// <summary>
/// A progress bar on stderr: redrawn in place on a terminal, a plain line per tenth otherwise. Counts requests
/// towards a total, or time towards a duration when the total is unknown.
/// </summary>
public sealed class ProgressBar : IDisposable
{
    private const int Width = 30;

    private readonly string _label;
    private readonly long _total;
    private readonly TimeSpan _duration;
    private readonly bool _inPlace = !Console.IsErrorRedirected;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Timer _timer;
    private readonly Lock _drawing = new();
    private long _done;
    private int _tenthsShown = -1;
    private bool _closed;

    public ProgressBar(string label, long total, TimeSpan duration = default)
    {
        _label = label;
        _total = total;
        _duration = duration;
        _timer = new Timer(_ => Draw(false), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(200));
    }

    public void Add(long count = 1) => Interlocked.Add(ref _done, count);

    public void Dispose()
    {
        _timer.Dispose();
        Draw(true);
    }

    private void Draw(bool last)
    {
        lock (_drawing)
        {
            if (_closed)
            {
                return;
            }
            _closed = last;
            var done = Interlocked.Read(ref _done);
            var fraction = _total > 0 ? (double)done / _total : _duration > TimeSpan.Zero ? _clock.Elapsed / _duration : 0;
            fraction = last ? 1 : Math.Clamp(fraction, 0, 1);
            var rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
            var filled = (int)(fraction * Width);
            var line = string.Create(CultureInfo.InvariantCulture,
                $"{_label} [{new string('#', filled)}{new string('-', Width - filled)}] {fraction * 100,3:F0}% {done}{(_total > 0 ? "/" + _total : "")} {rate:F0}/s");
            if (_inPlace)
            {
                Console.Error.Write("\r" + line + (last ? "\n" : ""));
                return;
            }
            var tenths = (int)(fraction * 10);
            if (tenths > _tenthsShown)
            {
                _tenthsShown = tenths;
                Console.Error.WriteLine(line);
            }
        }
    }
}
