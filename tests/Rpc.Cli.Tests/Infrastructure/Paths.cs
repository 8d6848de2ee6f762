namespace Rpc.Cli.Tests.Infrastructure;

/// <summary>Where the tool and the test server were built, read off the tests' own build configuration.</summary>
public static class Paths
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();

    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    public static string ToolDll => Built(Path.Combine("src", "Rpc.Cli"), "rpc");

    public static string TestServerDll => Built(Path.Combine("tests", "Rpc.TestServer"), "Rpc.TestServer");

    public static string DistributedCalculatorDll => Built(Path.Combine("samples", "DistributedCalculator"), "DistributedCalculator");

    /// <summary>The build configuration the tests (and so everything they run) were built in.</summary>
    public static string BuildConfiguration => Configuration;

    /// <summary>The repository's root directory.</summary>
    public static string Root => RepositoryRoot;

    /// <summary>A fresh Unix socket path, short enough for the 108-byte limit.</summary>
    public static string NewSocketPath() => Path.Combine(Path.GetTempPath(), $"rpcc-{Guid.NewGuid():N}"[..17] + ".sock");

    private static string Built(string project, string assembly)
    {
        var path = Path.Combine(RepositoryRoot, project, "bin", Configuration, "net10.0", assembly + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} first; expected {path}.");
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Rpc.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Rpc.sln not found above the test directory.");
    }
}
