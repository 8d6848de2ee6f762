using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Conformance;

public sealed class UnixSocketConformanceTests : ConformanceTests
{
    protected override string NewAddress() => "unix://" + TestPaths.NewSocketPath();

    protected override void AssertReleased(string address, bool graceful)
    {
        var path = address["unix://".Length..];
        if (graceful)
        {
            Assert.False(File.Exists(path), $"The server left its socket file {path} behind.");
            Assert.False(File.Exists(path + ".lock"), $"The server left its lock file {path}.lock behind.");
        }
        else
        {
            // A killed server cannot clean up; the next server on the path would take both over.
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }
}
