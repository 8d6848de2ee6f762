using Grpc.Core;

namespace GettingStarted;

/// <summary>The service: a subclass of the generated base, as for Grpc.AspNetCore.</summary>
public sealed class GreeterService : Greeter.GreeterBase
{
    public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context) =>
        Task.FromResult(new HelloReply { Message = $"Hello, {request.Name}" });

    public override async Task SayHellos(HelloRequest request, IServerStreamWriter<HelloReply> responseStream, ServerCallContext context)
    {
        for (var i = 1; i <= 3; i++)
        {
            await responseStream.WriteAsync(new HelloReply { Message = $"Hello, {request.Name} #{i}" }, context.CancellationToken);
        }
    }
}
