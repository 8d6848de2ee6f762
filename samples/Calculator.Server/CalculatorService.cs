using Calculator.Protos;
using Grpc.Core;

namespace Calculator.Server;

/// <summary>The calculator, written against the generated base class exactly as for any gRPC server.</summary>
public sealed class CalculatorService : Protos.Calculator.CalculatorBase
{
    public override Task<Result> Add(BinaryRequest request, ServerCallContext context) => Answer(request.A + request.B);

    public override Task<Result> Subtract(BinaryRequest request, ServerCallContext context) => Answer(request.A - request.B);

    public override Task<Result> Multiply(BinaryRequest request, ServerCallContext context) => Answer(request.A * request.B);

    public override Task<Result> Divide(BinaryRequest request, ServerCallContext context)
    {
        if (request.B == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Division by zero."));
        }

        return Answer(request.A / request.B);
    }

    public override async Task<Result> Sum(IAsyncStreamReader<Number> requestStream, ServerCallContext context)
    {
        var total = 0.0;
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            total += requestStream.Current.Value;
        }

        return new Result { Value = total };
    }

    public override async Task Primes(PrimesRequest request, IServerStreamWriter<Number> responseStream, ServerCallContext context)
    {
        foreach (var prime in Sieve(request.Limit))
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            await responseStream.WriteAsync(new Number { Value = prime });
        }
    }

    public override async Task RunningAverage(IAsyncStreamReader<Number> requestStream, IServerStreamWriter<Result> responseStream, ServerCallContext context)
    {
        var total = 0.0;
        var count = 0;
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            total += requestStream.Current.Value;
            count++;
            await responseStream.WriteAsync(new Result { Value = total / count });
        }
    }

    private static Task<Result> Answer(double value) => Task.FromResult(new Result { Value = value });

    private static IEnumerable<long> Sieve(long limit)
    {
        if (limit < 2)
        {
            yield break;
        }

        if (limit > 10_000_000)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The limit must be at most 10,000,000."));
        }

        var composite = new bool[limit + 1];
        for (long n = 2; n <= limit; n++)
        {
            if (composite[n])
            {
                continue;
            }

            yield return n;
            for (var multiple = n * n; multiple <= limit; multiple += n)
            {
                composite[multiple] = true;
            }
        }
    }
}
