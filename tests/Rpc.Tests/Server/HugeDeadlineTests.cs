using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Rpc.Client;
using Rpc.Testing;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Protocol;
using Xunit;

namespace Rpc.Tests.Server;

/// <summary>Deadlines further out than a .NET timer can wait (about 49.7 days) work on both sides.</summary>
public sealed class HugeDeadlineTests
{
    [Fact]
    public async Task Call_DeadlineHundredDaysAway_Succeeds()
    {
        await using var server = await InProcessServer.StartAsync();
        await using var channel = RpcChannel.ForAddress(server.Address);
        var client = new TestService.TestServiceClient(channel);

        await client.EmptyCallAsync(new Empty(), deadline: DateTime.UtcNow.AddDays(100)).ResponseAsync.DefaultTimeout();
        var stream = client.StreamingOutputCall(new StreamingOutputCallRequest { ResponseParameters = { new ResponseParameters { Size = 1 } } }, deadline: DateTime.UtcNow.AddDays(100));
        Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None).DefaultTimeout());
    }

    [Theory]
    [InlineData(100L * 24 * 3600 * 1_000_000)] // 100 days
    [InlineData(1_000_000_000_000_000_000L)] // beyond TimeSpan
    [InlineData(long.MaxValue)]
    public async Task ServerCall_HugeTimeoutOnWire_CallRuns(long timeoutMicroseconds)
    {
        await using var server = await InProcessServer.StartAsync();
        var transport = TransportRegistry.Default.Resolve(TransportAddress.Parse(server.Address));
        var connection = new MultiplexedConnection(
            await transport.ConnectAsync(TransportAddress.Parse(server.Address), CancellationToken.None).DefaultTimeout(),
            new ConnectionOptions(), acceptor: null, NullLogger.Instance);
        try
        {
            await connection.StartAsync(CancellationToken.None).DefaultTimeout();
            var stream = connection.CreateStream();
            await stream.SendAsync(new OutgoingFrames
            {
                Method = "/rpc.testing.TestService/EmptyCall",
                TimeoutMicroseconds = timeoutMicroseconds,
                Message = new Empty().ToByteArray(),
                HasMessage = true,
                EndStream = true,
            }).DefaultTimeout();

            var response = await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout();
            Assert.NotNull(response);
            response.Value.Release();
            Assert.Null(await stream.ReadMessageAsync(CancellationToken.None).DefaultTimeout());
            Assert.Equal(StatusCode.OK, stream.Trailers?.Status.StatusCode);
        }
        finally
        {
            await connection.DisposeAsync().DefaultTimeout();
        }
    }
}
