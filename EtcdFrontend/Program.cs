using KubeBrain.EtcdFrontend.Hosting;
using Microsoft.Extensions.Hosting;

return await FrontendCommandLine.RunAsync(args, "kubebrain-frontend", FrontendProcessOptions.Usage, new FrontendProcessOptions(), async options =>
{
    await using var app = FrontendHost.Build(options);
    await app.StartAsync();
    Console.WriteLine($"KubeBrain frontend '{options.Name}' serving etcd on {string.Join(", ", options.ListenClientUrls)} (cluster {options.ClusterId})");
    await app.WaitForShutdownAsync();
});
