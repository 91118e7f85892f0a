namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>The command line of the frontend process: the frontend flags, with the PostgreSQL connection string required.</summary>
public sealed record FrontendProcessOptions : FrontendCommandLine
{
    /// <summary>The flags, their defaults and meaning, as <c>--help</c> prints them.</summary>
    public const string Usage = """
        Usage: kubebrain-frontend [flags]

        Serves the etcd v3 API (KV, Watch, Lease, Maintenance.Status, Cluster.MemberList, grpc.health.v1) as a client of
        a KubeBrain Orleans cluster, whose silos it finds in the membership table in PostgreSQL.
        """ + "\n\n" + FlagsUsage + "\n" + """
          --help                             print this text
        """;

    protected override void Check()
    {
        base.Check();
        RequirePostgresConnectionString("the frontend (it finds the silos in the membership table)");
    }
}
