using Rpc.Client;
using Rpc.Tests.Conformance;
using Rpc.Tests.Infrastructure;
using Xunit;

namespace Rpc.Tests.Security;

/// <summary>
/// One test server process listening on every transport the credential tests cross (unix, pipe,
/// shm, mq, tcps, tcp), shared by the tests of a class; it stops gracefully and removes what it made.
/// </summary>
public sealed class SecurityServerFixture : IAsyncLifetime
{
    private ServerProcess? _server;

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync(
            "unix://" + TestPaths.NewSocketPath(),
            $"pipe://rpct-{Guid.NewGuid():N}",
            $"shm://rpct-{Guid.NewGuid():N}",
            $"mq://rpct-{Guid.NewGuid():N}",
            "tcps://127.0.0.1:0",
            "tcp://127.0.0.1:0");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>The server's bound address on <paramref name="scheme"/>.</summary>
    public string AddressOf(string scheme) => _server!.Addresses.Single(a => a.StartsWith(scheme + "://", StringComparison.Ordinal));

    /// <summary>A channel to the server over <paramref name="scheme"/>, trusting the test certificate on tcps.</summary>
    public RpcChannel Channel(string scheme, RpcChannelOptions? options = null)
    {
        options ??= new RpcChannelOptions();
        if (scheme == "tcps")
        {
            options.Transports = TlsConformanceTests.TrustingRegistry(TestCertificates.Server.Thumbprint);
        }

        return RpcChannel.ForAddress(AddressOf(scheme), options);
    }
}
