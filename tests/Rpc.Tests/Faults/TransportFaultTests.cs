using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Rpc.Client;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.SharedMemory;
using Rpc.Transports.Tcp;
using Xunit.Abstractions;

namespace Rpc.Tests.Faults;

public sealed class UnixSocketFaultTests(ITestOutputHelper output) : ProcessFaultTests(output)
{
    protected override string NewAddress() => "unix://" + TestPaths.NewSocketPath();

    protected override EndPoint RawEndPoint(string address) => new UnixDomainSocketEndPoint(address["unix://".Length..]);

    protected override void RemoveLeftovers(string address)
    {
        File.Delete(address["unix://".Length..]);
        File.Delete(address["unix://".Length..] + ".lock");
    }
}

public sealed class NamedPipeFaultTests(ITestOutputHelper output) : ProcessFaultTests(output)
{
    protected override string NewAddress() => $"pipe://rpct-{Guid.NewGuid():N}";

    // On Unix, .NET carries a named pipe on a socket file named after it.
    protected override EndPoint RawEndPoint(string address) => new UnixDomainSocketEndPoint(PipePath(address));

    protected override void RemoveLeftovers(string address)
    {
        File.Delete(PipePath(address));
        File.Delete(PipePath(address) + ".lock");
    }

    private static string PipePath(string address) => Path.Combine(Path.GetTempPath(), "CoreFxPipe_" + address["pipe://".Length..]);
}

public sealed class TcpFaultTests(ITestOutputHelper output) : ProcessFaultTests(output)
{
    protected override string NewAddress() => "tcp://127.0.0.1:0";

    protected override EndPoint RawEndPoint(string address) => IPEndPoint.Parse(address["tcp://".Length..]);
}

public sealed class TlsFaultTests(ITestOutputHelper output) : ProcessFaultTests(output)
{
    protected override string NewAddress() => "tcps://127.0.0.1:0";

    protected override RpcChannel CreateChannel(string address)
    {
        var thumbprint = TestCertificates.Server.Thumbprint;
        var registry = TransportRegistry.CreateDefault();
        registry.Register(new TcpTransport(new TcpTransportOptions
        {
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == thumbprint,
        }));
        return RpcChannel.ForAddress(address, new RpcChannelOptions { Transports = registry });
    }

    protected override EndPoint RawEndPoint(string address) => IPEndPoint.Parse(address["tcps://".Length..]);
}

public sealed class SharedMemoryFaultTests(ITestOutputHelper output) : ProcessFaultTests(output)
{
    protected override string NewAddress() => $"shm://rpct-{Guid.NewGuid():N}";

    protected override string ShmPattern(string address) => $"rpc-{Name(address)}-*";

    protected override EndPoint RawEndPoint(string address) => new UnixDomainSocketEndPoint(Rendezvous(address));

    protected override void RemoveLeftovers(string address)
    {
        File.Delete(Rendezvous(address));
        File.Delete(Rendezvous(address) + ".lock");
        foreach (var segment in Directory.GetFiles("/dev/shm", ShmPattern(address)))
        {
            File.Delete(segment);
        }
    }

    private static string Name(string address) => address["shm://".Length..];

    private static string Rendezvous(string address) =>
        new SharedMemoryTransport(new SharedMemoryTransportOptions()).GetRendezvousPath(TransportAddress.Parse(address));
}
