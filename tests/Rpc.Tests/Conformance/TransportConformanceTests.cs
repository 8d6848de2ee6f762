using System.Security.Cryptography.X509Certificates;
using Rpc.Client;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Tcp;
using Xunit;

namespace Rpc.Tests.Conformance;

public sealed class NamedPipeConformanceTests : ConformanceTests
{
    protected override string NewAddress() => $"pipe://rpct-{Guid.NewGuid():N}";

    protected override void AssertReleased(string address, bool graceful)
    {
        // On Unix, .NET carries a pipe on a socket file named after it.
        var path = Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + address["pipe://".Length..]);
        if (graceful)
        {
            Assert.False(File.Exists(path), $"The server left {path} behind.");
            Assert.False(File.Exists(path + ".lock"), $"The server left {path}.lock behind.");
        }
        else
        {
            File.Delete(path);
            File.Delete(path + ".lock");
        }
    }
}

public sealed class TcpConformanceTests : ConformanceTests
{
    protected override string NewAddress() => "tcp://127.0.0.1:0";

    protected override void AssertReleased(string address, bool graceful)
    {
        // A TCP port leaves nothing on disk; the port itself is the kernel's to reclaim.
    }
}

public sealed class TlsConformanceTests : ConformanceTests
{
    protected override string NewAddress() => "tcps://127.0.0.1:0";

    protected override RpcChannel CreateChannel(RpcChannelOptions? options = null)
    {
        options ??= new RpcChannelOptions();
        options.Transports = TrustingRegistry(TestCertificates.Server.Thumbprint);
        return RpcChannel.ForAddress(Server.Address, options);
    }

    protected override void AssertReleased(string address, bool graceful)
    {
    }

    internal static TransportRegistry TrustingRegistry(string thumbprint)
    {
        var registry = TransportRegistry.CreateDefault();
        registry.Register(new TcpTransport(new TcpTransportOptions
        {
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == thumbprint,
        }));
        return registry;
    }
}

public sealed class SharedMemoryConformanceTests : ConformanceTests
{
    protected override string NewAddress() => $"shm://rpct-{Guid.NewGuid():N}";

    protected override void AssertReleased(string address, bool graceful)
    {
        var rendezvous = new SharedMemoryTransport(new SharedMemoryTransportOptions()).GetRendezvousPath(TransportAddress.Parse(address));
        if (graceful)
        {
            Assert.False(File.Exists(rendezvous), $"The server left {rendezvous} behind.");
            Assert.False(File.Exists(rendezvous + ".lock"), $"The server left its lock file {rendezvous}.lock behind.");
        }
        else
        {
            // A killed server cannot clean up; the next server on the name would take both over.
            File.Delete(rendezvous);
            File.Delete(rendezvous + ".lock");
        }

        // Segments are memfds that never have a name, so even a killed server leaves none.
        Assert.Empty(Directory.GetFiles("/dev/shm", "rpc-*"));
    }
}
