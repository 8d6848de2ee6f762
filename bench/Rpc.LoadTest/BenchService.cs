using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;

namespace Rpc.Benchmarks;

/// <summary>The measured service: replies come from a cache so both stacks do only transport work.</summary>
public sealed class BenchService : BenchmarkService.BenchmarkServiceBase
{
    private static readonly ConcurrentDictionary<int, BenchReply> Replies = new();

    public static BenchReply Reply(int size) => Replies.GetOrAdd(size, s => new BenchReply { Payload = ByteString.CopyFrom(new byte[s]) });

    public override Task<BenchReply> Unary(BenchRequest request, ServerCallContext context) => Task.FromResult(Reply(request.ResponseSize));

    public override async Task ServerStream(BenchRequest request, IServerStreamWriter<BenchReply> responseStream, ServerCallContext context)
    {
        var reply = Reply(request.ResponseSize);
        for (var i = 0; i < request.Count && !context.CancellationToken.IsCancellationRequested; i++)
        {
            await responseStream.WriteAsync(reply);
        }
    }

    public override async Task<BenchReply> ClientStream(IAsyncStreamReader<BenchRequest> requestStream, ServerCallContext context)
    {
        long count = 0;
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            count++;
        }

        return new BenchReply { Count = count };
    }

    public override async Task PingPong(IAsyncStreamReader<BenchRequest> requestStream, IServerStreamWriter<BenchReply> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            await responseStream.WriteAsync(Reply(requestStream.Current.ResponseSize));
        }
    }
}
