using System.Globalization;
using Calculator.Protos;
using Grpc.Core;
using Rpc.Client;

// Usage: Calculator.Client <address> <expression or command>
//   2 + 3 | 7 - 4 | 6 * 7 | 1 / 0 | sum 1 2 3 | primes 30 | average 1 2 3 4
if (args.Length < 2)
{
    Console.Error.WriteLine("Usage: Calculator.Client <address> <a + b | a - b | a * b | a / b | sum n... | primes n | average n...>");
    return 2;
}

using var channel = RpcChannel.ForAddress(args[0]);
var calculator = new Calculator.Protos.Calculator.CalculatorClient(channel);
var words = args.Skip(1).SelectMany(a => a.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
var deadline = DateTime.UtcNow.AddSeconds(10);

try
{
    switch (words)
    {
        case [var a, var op, var b] when op is "+" or "-" or "*" or "x" or "/":
            var request = new BinaryRequest { A = Parse(a), B = Parse(b) };
            var result = op switch
            {
                "+" => await calculator.AddAsync(request, deadline: deadline),
                "-" => await calculator.SubtractAsync(request, deadline: deadline),
                "/" => await calculator.DivideAsync(request, deadline: deadline),
                _ => await calculator.MultiplyAsync(request, deadline: deadline),
            };
            Console.WriteLine($"{a} {op} {b} = {result.Value.ToString(CultureInfo.InvariantCulture)}");
            break;
        case ["sum", .. var numbers]:
            using (var sum = calculator.Sum(deadline: deadline))
            {
                foreach (var n in numbers)
                {
                    await sum.RequestStream.WriteAsync(new Number { Value = Parse(n) });
                }

                await sum.RequestStream.CompleteAsync();
                Console.WriteLine($"sum {string.Join(' ', numbers)} = {(await sum).Value.ToString(CultureInfo.InvariantCulture)}");
            }

            break;
        case ["primes", var limit]:
            using (var primes = calculator.Primes(new PrimesRequest { Limit = long.Parse(limit, CultureInfo.InvariantCulture) }, deadline: deadline))
            {
                var found = new List<string>();
                while (await primes.ResponseStream.MoveNext(CancellationToken.None))
                {
                    found.Add(primes.ResponseStream.Current.Value.ToString(CultureInfo.InvariantCulture));
                }

                Console.WriteLine($"primes up to {limit}: {string.Join(' ', found)}");
            }

            break;
        case ["average", .. var values]:
            using (var average = calculator.RunningAverage(deadline: deadline))
            {
                foreach (var v in values)
                {
                    await average.RequestStream.WriteAsync(new Number { Value = Parse(v) });
                    await average.ResponseStream.MoveNext(CancellationToken.None);
                    Console.WriteLine($"after {v}: running average = {average.ResponseStream.Current.Value.ToString(CultureInfo.InvariantCulture)}");
                }

                await average.RequestStream.CompleteAsync();
                while (await average.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            }

            break;
        default:
            Console.Error.WriteLine($"Not understood: '{string.Join(' ', words)}'.");
            return 2;
    }
}
catch (RpcException ex)
{
    Console.WriteLine($"{string.Join(' ', words)} failed: {ex.StatusCode}: {ex.Status.Detail}");
    return 1;
}

return 0;

static double Parse(string text) => double.Parse(text, CultureInfo.InvariantCulture);
