using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.TestClient;
using Rpc.Transports;
using Rpc.Transports.Tcp;

// Usage:
//   Rpc.TestClient sleep <address> <key>     a long Sleep call; prints "STARTED" once the server is inside the handler, then waits to be killed
//   Rpc.TestClient outcome <address> <key>   prints "OUTCOME <what the Sleep call with that key saw>"
//   Rpc.TestClient hold <address> <key>      one call of each kind left open (see FaultModes), for kill tests
//   Rpc.TestClient flood <address> <streams> server streams it stops reading, for tests of a peer that stops
if (args is ["outcome", var outcomeAddress, var outcomeKey])
{
    using var outcomeChannel = RpcChannel.ForAddress(outcomeAddress, ChannelOptions());
    var outcome = await new TestService.TestServiceClient(outcomeChannel).GetSleepOutcomeAsync(new SleepOutcomeRequest { Key = outcomeKey, WaitMillis = 5000 });
    Console.WriteLine("OUTCOME " + outcome.Outcome);
    return 0;
}

if (args is ["hold", var holdAddress, var holdKey])
{
    using var holdChannel = RpcChannel.ForAddress(holdAddress, ChannelOptions());
    return await FaultModes.HoldAsync(new TestService.TestServiceClient(holdChannel), holdKey);
}

if (args is ["flood", var floodAddress, var streams])
{
    using var floodChannel = RpcChannel.ForAddress(floodAddress, ChannelOptions());
    return await FaultModes.FloodAsync(new TestService.TestServiceClient(floodChannel), int.Parse(streams, System.Globalization.CultureInfo.InvariantCulture));
}

if (args is not ["sleep", var address, var key])
{
    Console.Error.WriteLine("Usage: Rpc.TestClient sleep|outcome|hold <address> <key> | flood <address> <streams>");
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
