using System.Globalization;

namespace KubeBrain.Grains.Storage;

/// <summary>One schema migration embedded in the assembly as <c>NNNN_name.sql</c>.</summary>
/// <param name="Version">The number the file name starts with.</param>
/// <param name="Name">The file name without its extension.</param>
/// <param name="Script">The SQL text.</param>
internal sealed record EmbeddedMigration(int Version, string Name, string Script);

/// <summary>Finds the schema migrations a backend embeds in the assembly, in version order.</summary>
internal static class EmbeddedMigrations
{
    /// <summary>
    /// The migrations embedded from <c>Storage/&lt;backend&gt;/Migrations/</c>, ascending by version. Throws when
    /// there are none, when a name does not start with a number and an underscore, or when two share a version.
    /// </summary>
    public static IReadOnlyList<EmbeddedMigration> Of(string backend)
    {
        var marker = $".Storage.{backend}.Migrations.";
        var assembly = typeof(EmbeddedMigrations).Assembly;
        var found = new List<(int Version, string Name, string Resource)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var at = resource.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0 || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }
            var name = resource[(at + marker.Length)..^".sql".Length];
            var separator = name.IndexOf('_', StringComparison.Ordinal);
            if (separator <= 0 || !int.TryParse(name.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"The migration {resource} is not named NNNN_name.sql.");
            }
            found.Add((version, name, resource));
        }
        if (found.Count == 0)
        {
            throw new InvalidOperationException($"No {backend} schema migrations are embedded in the assembly.");
        }
        found.Sort((x, y) => x.Version.CompareTo(y.Version));
        var migrations = new List<EmbeddedMigration>(found.Count);
        for (var i = 0; i < found.Count; i++)
        {
            if (i > 0 && found[i].Version == found[i - 1].Version)
            {
                throw new InvalidOperationException($"Two {backend} migrations share version {found[i].Version}.");
            }
            using var stream = assembly.GetManifestResourceStream(found[i].Resource)
                ?? throw new InvalidOperationException($"The migration {found[i].Resource} cannot be read.");
            using var reader = new StreamReader(stream);
            migrations.Add(new EmbeddedMigration(found[i].Version, found[i].Name, reader.ReadToEnd()));
        }
        return migrations;
    }
}
