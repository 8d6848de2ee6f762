using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Conformance;

public sealed class UnixSocketConformanceTests : ConformanceTests
{
    protected override string NewAddress() => "unix://" + TestPaths.NewSocketPath();

    protected override void AssertReleased(string address)
    {
        // A killed server cannot remove its socket file; the tests that kill it restart nothing on
        // that path afterwards, so only a graceful stop is held to leaving no file.
        var path = address["unix://".Length..];
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }
}
