using Rpc.Packaging.Tests.Infrastructure;
using Xunit;

namespace Rpc.Packaging.Tests;

/// <summary>
/// The packages as a user gets them: what `dotnet pack` puts in each, and the getting-started
/// sample copied out of the repository and built against them alone (docs/getting-started.md).
/// </summary>
public sealed class PackagesTests(PackedPackages packages) : IClassFixture<PackedPackages>
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void Pack_EachLibrary_CarriesMetadataReadmeDocsAndSymbols()
    {
        foreach (var id in PackedPackages.Ids)
        {
            var package = Package.Open(packages.PackagePath(id));

            Assert.Equal(id, package.Value("id"));
            Assert.Equal(packages.Version, package.Value("version"));
            Assert.False(string.IsNullOrWhiteSpace(package.Value("description")), $"{id}: no description");
            Assert.Equal("expression", (string?)package.Element("license")?.Attribute("type"));
            Assert.False(string.IsNullOrWhiteSpace(package.Value("license")), $"{id}: no license");
            Assert.Contains("grpc", package.Value("tags")!.Split(' '));
            Assert.Equal("git", (string?)package.Element("repository")?.Attribute("type"));
            Assert.Equal("README.md", package.Value("readme"));
            Assert.Contains("README.md", package.Files);
            Assert.Contains($"lib/net10.0/{id}.dll", package.Files);
            Assert.Contains($"lib/net10.0/{id}.xml", package.Files);

            var symbols = Package.Open(packages.SymbolPackagePath(id));
            Assert.Contains($"lib/net10.0/{id}.pdb", symbols.Files);
        }
    }

    [Fact]
    public void Pack_Dependencies_GiveWhatGrpcDotnetUsersGet()
    {
        var transports = Package.Open(packages.PackagePath("Rpc.Transports")).Dependencies();
        Assert.Contains("Grpc.Core.Api", transports.Keys);

        // A client gets the channel, ReadAllAsync (Grpc.Net.Common) and the message runtime, and
        // the transports at the version packed with it.
        var client = Package.Open(packages.PackagePath("Rpc.Client")).Dependencies();
        Assert.Equal(packages.Version, (string?)client["Rpc.Transports"].Attribute("version"));
        Assert.Contains("Grpc.Net.Client", client.Keys);
        Assert.Contains("Grpc.Net.Common", client.Keys);
        Assert.Contains("Google.Protobuf", client.Keys);

        // A server gets all Grpc.AspNetCore gives (its build assets too: Grpc.Tools' code
        // generation), and the ASP.NET Core shared framework it runs on.
        var server = Package.Open(packages.PackagePath("Rpc.Server"));
        var serverDependencies = server.Dependencies();
        Assert.Equal(packages.Version, (string?)serverDependencies["Rpc.Transports"].Attribute("version"));
        Assert.Equal("All", (string?)serverDependencies["Grpc.AspNetCore"].Attribute("include"));
        Assert.Null(serverDependencies["Grpc.AspNetCore"].Attribute("exclude"));
        Assert.Contains("Microsoft.AspNetCore.App", server.FrameworkReferences());
    }

    [Fact]
    public async Task GettingStartedSample_CopiedOutOfTheRepository_BuildsAgainstThePackagesAndCallsOverUnixAndShm()
    {
        var sample = Path.Combine(packages.WorkDirectory, "GettingStarted");
        CopySample(Repository.PathOf("samples", "GettingStarted"), sample);
        await File.WriteAllTextAsync(Path.Combine(sample, "nuget.config"), NuGetConfig(packages.Feed));

        // As a user builds it; no build servers, so nothing outlives the test holding its output open.
        (await Dotnet.RunAsync(sample, BuildTimeout, "build", "-c", "Release", $"-p:RpcVersion={packages.Version}", "--disable-build-servers")).EnsureSuccess();

        // It was built from the packages just packed, not from anything in the repository.
        var assets = await File.ReadAllTextAsync(Path.Combine(sample, "obj", "project.assets.json"));
        foreach (var id in PackedPackages.Ids)
        {
            Assert.Contains($"\"{id}/{packages.Version}\"", assets, StringComparison.Ordinal);
        }

        var dll = Path.Combine(sample, "bin", "Release", "net10.0", "GettingStarted.dll");
        var name = $"rpcpkg-{Guid.NewGuid():N}"[..19];
        var socket = Path.Combine(Path.GetTempPath(), name + ".sock");
        try
        {
            foreach (var address in new[] { $"unix://{socket}", $"shm://{name}" })
            {
                var run = (await Dotnet.RunAsync(sample, RunTimeout, dll, address)).EnsureSuccess();
                var lines = run.Output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
                Assert.Contains($"{address} unary: Hello, world", lines);
                Assert.Equal(
                    [$"{address} stream: Hello, stream #1", $"{address} stream: Hello, stream #2", $"{address} stream: Hello, stream #3"],
                    lines.Where(l => l.StartsWith($"{address} stream:", StringComparison.Ordinal)));
            }

            Assert.False(File.Exists(socket), "the server left its socket behind");
        }
        finally
        {
            File.Delete(socket);
        }
    }

    private static void CopySample(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            // A build of the sample inside the repository leaves these; a copy starts clean.
            if (relative.StartsWith("bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                || relative.StartsWith("obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>
    /// The packed folder beside the machine's own sources (nuget.org here; not cleared, so a
    /// machine with a mirror keeps it): the Rpc packages' version exists only in the folder.
    /// </summary>
    private static string NuGetConfig(string feed) => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <add key="rpc-packed" value="{feed}" />
            <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
          </packageSources>
        </configuration>
        """;
}
