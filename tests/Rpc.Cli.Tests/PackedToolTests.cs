using Rpc.Cli.Tests.Infrastructure;
using Xunit;

namespace Rpc.Cli.Tests;

/// <summary>
/// The tool as a user gets it: <c>dotnet pack</c> to a folder, <c>dotnet tool install --add-source</c>
/// from it into a tool path, and the installed <c>rpc</c> run against a real server process.
/// </summary>
public sealed class PackedToolTests(TestServerFixture server) : IClassFixture<TestServerFixture>
{
    /// <summary>Generous: pack and install on a loaded 2-core machine; only proves "doesn't hang".</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task PackAndInstall_InstalledRpcList_ListsTheServersServices()
    {
        var work = Directory.CreateTempSubdirectory("rpc-pack-");
        try
        {
            var packages = Path.Combine(work.FullName, "packages");
            // Built already by this test run: pack what was built, in the same configuration.
            await RunAsync("dotnet", "pack", Path.Combine(Paths.Root, "src", "Rpc.Cli"), "-c", Paths.BuildConfiguration, "--no-build", "-o", packages);
            Assert.Single(Directory.GetFiles(packages, "Rpc.Cli.*.nupkg"));

            // Only the packed folder as a source, and a package cache of its own, so the install
            // cannot take an Rpc.Cli of the same version from anywhere else.
            var config = Path.Combine(work.FullName, "nuget.config");
            await File.WriteAllTextAsync(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration><packageSources><clear /><add key="packed" value="{packages}" /></packageSources></configuration>
                """);
            var tools = Path.Combine(work.FullName, "tools");
            await RunAsync("dotnet", ["tool", "install", "Rpc.Cli", "--tool-path", tools, "--configfile", config], new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(work.FullName, "cache") });

            var list = await RunAsync(Path.Combine(tools, "rpc"), "list", server.Addresses["unix"]);
            Assert.Contains("rpc.testing.TestService", list.Split('\n'));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static Task<string> RunAsync(string fileName, params string[] args) => RunAsync(fileName, args, null);

    private static async Task<string> RunAsync(string fileName, string[] args, Dictionary<string, string>? environment)
    {
        await using var process = ChildProcess.Start(fileName, args, environment);
        var (exitCode, output) = await process.WaitForExitAsync(Bound);
        Assert.True(exitCode == 0, $"{fileName} {string.Join(' ', args)} exited with {exitCode}:\n{output}");
        return output;
    }
}
