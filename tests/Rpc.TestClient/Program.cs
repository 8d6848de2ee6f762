using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Transports;
using Rpc.Transports.Tcp;

// Usage: Rpc.TestClient sleep <address> <key>
// Starts a long Sleep call, prints "STARTED" once the server is inside the handler, then waits to be killed.
if (args is ["outcome", var outcomeAddress, var outcomeKey])
{
    using var outcomeChannel = RpcChannel.ForAddress(outcomeAddress, ChannelOptions());
    var outcome = await new TestService.TestServiceClient(outcomeChannel).GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = outcomeKey, WaitMillis = 5000 });
    Console.WriteLine("OUTCOME " + outcome.Outcome);
    return 0;
}

if (args is not ["sleep", var address, var key])
{
    Console.Error.WriteLine("Usage: Rpc.TestClient sleep|outcome <address> <key>");
    return 2;
}

using var channel = RpcChannel.ForAddress(address, ChannelOptions());
var client = new TestService.TestServiceClient(channel);
using var call = client.SleepAsync(new SleepRequest { Key = key, Millis = 60_000 });
await call.ResponseHeadersAsync;
Console.WriteLine("STARTED");
try
{
    await call;
}
catch (RpcException ex)
{
    Console.WriteLine("ENDED " + ex.StatusCode);
}

return 0;

// With RPC_TEST_CERT set, trust exactly that self-signed certificate for tcps://.
static RpcChannelOptions ChannelOptions()
{
    var options = new RpcChannelOptions();
    if (Environment.GetEnvironmentVariable("RPC_TEST_CERT") is { } path)
    {
        var thumbprint = X509CertificateLoader.LoadPkcs12FromFile(path, password: null).Thumbprint;
        options.Transports = TransportRegistry.CreateDefault();
        options.Transports.Register(new TcpTransport(new TcpTransportOptions
        {
            RemoteCertificateValidation = (_, certificate, _, _) => certificate is X509Certificate2 c && c.Thumbprint == thumbprint,
        }));
    }

    return options;
}
