namespace Rpc.Packaging.Tests.Infrastructure;

/// <summary>Where the repository is and which configuration these tests were built in.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>Release or Debug, read off the test assembly's own path (bin/Configuration/tfm/).</summary>
    public static string Configuration { get; } =
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
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
