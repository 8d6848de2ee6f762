using Xunit;

namespace Rpc.Packaging.Tests.Infrastructure;

/// <summary>
/// Rpc.Transports, Rpc.Client and Rpc.Server packed once, from the build the tests run on, into a
/// folder of their own under the temp directory, with a version no other run uses: the machine's
/// NuGet cache keeps a package by id and version forever, so a reused version would hand the
/// sample an older run's packages. The cache is shared (no download of Grpc.*, Google.Protobuf);
/// the packages this run put there are removed with the folder.
/// </summary>
public sealed class PackedPackages : IAsyncLifetime
{
    public static readonly string[] Ids = ["Rpc.Transports", "Rpc.Client", "Rpc.Server"];

    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(2);

    public PackedPackages()
    {
        var run = Guid.NewGuid().ToString("N")[..12];
        Version = $"0.1.0-pkgtest-{run}";
        WorkDirectory = Path.Combine(Path.GetTempPath(), $"rpc-packaging-{run}");
        Feed = Path.Combine(WorkDirectory, "feed");
    }

    /// <summary>The version every package was packed with, the one the sample must reference.</summary>
    public string Version { get; }

    /// <summary>This run's own folder; the fixture deletes it.</summary>
    public string WorkDirectory { get; }

    /// <summary>The folder holding the .nupkg and .snupkg files: the sample's package source.</summary>
    public string Feed { get; }

    public string PackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.nupkg");

    public string SymbolPackagePath(string id) => Path.Combine(Feed, $"{id}.{Version}.snupkg");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Feed);

        // --no-build: the libraries as built for this test run, not a second build racing other
        // test projects for the same obj/ folders. PackageVersion changes the packages' version
        // only (not the assemblies'), and flows to the dependencies between them.
        (await Dotnet.RunAsync(
            Repository.Root, PackTimeout,
            "pack", Repository.PathOf("eng", "Packages.slnf"),
            "-c", Repository.Configuration, "--no-build",
            "-o", Feed, $"-p:PackageVersion={Version}").ConfigureAwait(false)).EnsureSuccess();
    }

    public async Task DisposeAsync()
    {
        try
        {
            var globalPackages = await GlobalPackagesFolderAsync().ConfigureAwait(false);
            foreach (var id in Ids)
            {
                var idFolder = Path.Combine(globalPackages, id.ToLowerInvariant());
                DeleteDirectory(Path.Combine(idFolder, Version.ToLowerInvariant()));
                RemoveIfEmpty(idFolder);
            }
        }
        finally
        {
            DeleteDirectory(WorkDirectory);
        }
    }

    private static async Task<string> GlobalPackagesFolderAsync()
    {
        // NUGET_PACKAGES, a nuget.config setting or the default: the CLI knows which is in force.
        var result = (await Dotnet.RunAsync(Path.GetTempPath(), TimeSpan.FromMinutes(1), "nuget", "locals", "global-packages", "--list").ConfigureAwait(false)).EnsureSuccess();
        const string Prefix = "global-packages:";
        var line = result.Output.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        return line[Prefix.Length..].Trim();
    }

    private static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private static void RemoveIfEmpty(string path)
    {
        if (Directory.Exists(path) && !Directory.EnumerateFileSystemEntries(path).Any())
        {
            try
            {
                Directory.Delete(path);
            }
            catch (IOException)
            {
                // Another run put its own version there meanwhile: the folder is theirs now.
            }
        }
    }
}
