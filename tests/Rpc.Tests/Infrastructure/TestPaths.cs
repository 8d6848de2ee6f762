namespace Rpc.Tests.Infrastructure;

/// <summary>Where the helper programs were built and where tests put their sockets.</summary>
public static class TestPaths
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();

    /// <summary>The build configuration the tests run under (Debug or Release), read off their own path.</summary>
    private static string Configuration => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    public static string TestServerDll => HelperDll("Rpc.TestServer");

    public static string TestClientDll => HelperDll("Rpc.TestClient");

    /// <summary>A fresh Unix socket path, short enough for the 108-byte limit.</summary>
    public static string NewSocketPath() => Path.Combine(Path.GetTempPath(), $"rpct-{Guid.NewGuid():N}"[..17] + ".sock");

    private static string HelperDll(string name)
    {
        var path = Path.Combine(RepositoryRoot, "tests", name, "bin", Configuration, "net10.0", name + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {name} first; expected it at {path}.");
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
