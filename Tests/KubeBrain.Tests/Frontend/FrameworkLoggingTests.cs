using KubeBrain.EtcdFrontend.Hosting;
using KubeBrain.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace KubeBrain.Tests.Frontend;

public sealed class FrameworkLoggingTests
{
    /// <summary>
    /// ASP.NET Core starts an Activity and a logging scope for every request while its request diagnostics log at
    /// any level, Critical included; the server's filters turn that category off and keep the frameworks' warnings.
    /// </summary>
    [Fact]
    public void RequestDiagnosticsAreOffAndFrameworkWarningsStayOn()
    {
        using var services = new ServiceCollection()
            .AddLogging(logging => logging.AddProvider(new LogRecorder()).AddQuietFrameworkFilters())
            .BuildServiceProvider();
        var loggers = services.GetRequiredService<ILoggerFactory>();

        Assert.False(loggers.CreateLogger(EtcdFrontendExtensions.RequestDiagnosticsCategory).IsEnabled(LogLevel.Critical));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning));
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Information));
        Assert.True(loggers.CreateLogger("Orleans.Runtime.Silo").IsEnabled(LogLevel.Warning));
    }
}
