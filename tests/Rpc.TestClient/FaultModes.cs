using Google.Protobuf;
using Grpc.Core;
using Rpc.Testing;

namespace Rpc.TestClient;

/// <summary>Client behaviours the fault tests kill or freeze from outside.</summary>
internal static class FaultModes
{
    /// <summary>How long a helper waits to be killed before it gives up and exits on its own.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Opens one call of each kind, each tagged <c>x-fault-key: key-kind</c>, and leaves them open:
    /// the server's handlers are all waiting on this client when it is killed.
    /// </summary>
    public static async Task<int> HoldAsync(TestService.TestServiceClient client, string key)
    {
        static Metadata Tag(string key) => [new Metadata.Entry("x-fault-key", key)];

        using var unary = client.SleepAsync(new SleepRequest { Key = key + "-unary", Millis = 120_000 }, Tag(key + "-unary"));
        var slow = new StreamingOutputCallRequest();
        for (var i = 0; i < 1000; i++)
        {
            slow.ResponseParameters.Add(new ResponseParameters { Size = 8, IntervalUs = 100_000 });
        }

        using var serverStreaming = client.StreamingOutputCall(slow, Tag(key + "-server"));
        using var clientStreaming = client.StreamingInputCall(Tag(key + "-client"));
        await clientStreaming.RequestStream.WriteAsync(new StreamingInputCallRequest { Payload = new Payload { Body = ByteString.CopyFrom(new byte[16]) } });
        using var duplex = client.FullDuplexCall(Tag(key + "-bidi"));
        await duplex.RequestStream.WriteAsync(new StreamingOutputCallRequest());
        Console.WriteLine("STARTED");
        await Task.Delay(Patience);
        return 0;
    }

    /// <summary>
    /// Opens <paramref name="streams"/> server streams that each ask for far more than one window,
    /// reads the first message of each and prints "STARTED"; the rest comes 2 s later, by which time
    /// the test has frozen this process, so the server's output to it backs up.
    /// </summary>
    public static async Task<int> FloodAsync(TestService.TestServiceClient client, int streams)
    {
        // One small message to prove the stream is open, then a pause in which the test freezes
        // this process, then 16 MiB: far more than the stream's window, so the server's writer waits.
        var request = new StreamingOutputCallRequest();
        request.ResponseParameters.Add(new ResponseParameters { Size = 8 });
        request.ResponseParameters.Add(new ResponseParameters { Size = 256 * 1024, IntervalUs = 2_000_000 });
        for (var i = 0; i < 63; i++)
        {
            request.ResponseParameters.Add(new ResponseParameters { Size = 256 * 1024 });
        }

        var calls = Enumerable.Range(0, streams).Select(_ => client.StreamingOutputCall(request)).ToList();
        foreach (var call in calls)
        {
            await call.ResponseStream.MoveNext(CancellationToken.None);
        }

        Console.WriteLine("STARTED");
        await Task.Delay(Patience);
        GC.KeepAlive(calls);
        return 0;
    }
}
