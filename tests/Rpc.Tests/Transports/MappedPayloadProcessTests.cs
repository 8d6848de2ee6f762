using Google.Protobuf;
using Grpc.Core;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.TestServer;
using Xunit;

namespace Rpc.Tests.Transports;

/// <summary>
/// Messages far above the default 4 MiB limit, between two processes, through mapped regions
/// (docs/mapped-payloads.md): checked byte for byte, and nothing left mapped once a connection is
/// gone, even when the peer dies with regions outstanding. Alone, because each case moves hundreds
/// of MiB and counts this process's mappings.
/// </summary>
[Collection(RunsAlone.Name)]
public abstract class MappedPayloadProcessTests
{
    private const int MiB = 1024 * 1024;
    private const int Limit = 80 * MiB;

    protected abstract string NewAddress();

    /// <summary>Removes what a killed server at <paramref name="address"/> could not.</summary>
    protected virtual void RemoveLeftovers(string address)
    {
    }

    [Fact]
    public async Task UnaryCall_64MiBRequest_EchoedByteForByte()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var server = await ServerProcess.StartAsync(NewAddress(), $"--max-message={Limit}");
        await using var channel = CreateChannel(server.Address);
        var body = new byte[64 * MiB];
        PatternFill.Fill(body, seed: 64);
        var request = new SimpleRequest { EchoPayload = true, Payload = new Payload { Body = UnsafeByteOperations.UnsafeWrap(body) } };

        var response = await new TestService.TestServiceClient(channel).UnaryCallAsync(request).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(60));

        // (A 65 MiB region is dropped as soon as it is released, so unlike the 1 MiB chunks below it
        // leaves no mapping to look for afterwards.)
        Assert.True(response.Payload.Body.Span.SequenceEqual(body), "The echoed 64 MiB differ from what was sent.");
    }

    [Fact]
    public async Task ServerStream_256MiBIn1MiBChunks_EveryByteChecked()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        await using var server = await ServerProcess.StartAsync(NewAddress(), $"--max-message={Limit}");
        await using var channel = CreateChannel(server.Address);
        var request = new StreamingOutputCallRequest();
        for (var i = 1; i <= 256; i++)
        {
            request.ResponseParameters.Add(new ResponseParameters { Size = MiB, FillSeed = i });
        }

        using var call = new TestService.TestServiceClient(channel).StreamingOutputCall(request, deadline: DateTime.UtcNow.AddMinutes(2));
        var expected = new byte[MiB];
        var count = 0;
        while (await call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(60)))
        {
            count++;
            PatternFill.Fill(expected, seed: count);
            Assert.True(call.ResponseStream.Current.Payload.Body.Span.SequenceEqual(expected), $"Chunk {count} differs from what the server sent.");
        }

        Assert.Equal(256, count);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        // The chunks came through regions of the server's, which this process mapped and keeps for reuse.
        Assert.True(CountRegionMappings() > 0, "No payload region is mapped: the chunks went through the byte stream.");
    }

    [Fact]
    public async Task ServerKilledMidStream_CallFailsUnavailable_NoRegionLeftMapped()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var before = CountRegionMappings();
        var server = await ServerProcess.StartAsync(NewAddress(), $"--max-message={Limit}");
        await using (server)
        {
            var channel = CreateChannel(server.Address);
            await using (channel)
            {
                var request = new StreamingOutputCallRequest();
                for (var i = 1; i <= 10_000; i++)
                {
                    request.ResponseParameters.Add(new ResponseParameters { Size = MiB, FillSeed = i, IntervalUs = 1000 });
                }

                using var call = new TestService.TestServiceClient(channel).StreamingOutputCall(request);
                Assert.True(await call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(30)));
                Assert.True(await call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(30)));
                Assert.True(CountRegionMappings() > before, "The chunks did not come through a region.");

                await server.Process.KillAsync();
                var failure = await Assert.ThrowsAsync<RpcException>(async () =>
                {
                    while (await call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(30)))
                    {
                    }
                });
                Assert.Equal(StatusCode.Unavailable, failure.StatusCode);
            }
        }

        RemoveLeftovers(server.Address);

        // The dead server's regions went with the connection; this process holds none of them.
        Assert.Equal(before, CountRegionMappings());
    }

    private static RpcChannel CreateChannel(string address) =>
        RpcChannel.ForAddress(address, new RpcChannelOptions { MaxReceiveMessageSize = Limit, MaxSendMessageSize = Limit });

    /// <summary>This process's mappings of payload regions, its own and its peers' ("/memfd:rpc-payload").</summary>
    private static int CountRegionMappings() =>
        File.ReadLines("/proc/self/maps").Count(line => line.Contains("memfd:rpc-payload", StringComparison.Ordinal));
}

public sealed class UnixSocketMappedPayloadProcessTests : MappedPayloadProcessTests
{
    protected override string NewAddress() => "unix://" + TestPaths.NewSocketPath();

    protected override void RemoveLeftovers(string address)
    {
        File.Delete(address["unix://".Length..]);
        File.Delete(address["unix://".Length..] + ".lock");
    }
}

public sealed class SharedMemoryMappedPayloadProcessTests : MappedPayloadProcessTests
{
    protected override string NewAddress() => $"shm://rpct-{Guid.NewGuid():N}";
}
