using Calculator.Protos;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using CalculatorClient = Calculator.Protos.Calculator.CalculatorClient;

namespace HostedCalculator;

/// <summary>
/// Calls the hosted calculator through the client the container made, then stops the app,
/// unless it was started with <c>--serve true</c>, when it goes on serving until Ctrl+C.
/// </summary>
internal sealed partial class CalculatorCaller(
    CalculatorClient calculator, IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<CalculatorCaller> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var sum = await calculator.AddAsync(new BinaryRequest { A = 2, B = 3 }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: stoppingToken);
            LogSum(logger, sum.Value);
            try
            {
                await calculator.DivideAsync(new BinaryRequest { A = 1, B = 0 }, deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: stoppingToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.InvalidArgument)
            {
                LogRefused(logger, ex.Status.Detail);
            }
        }
        finally
        {
            if (!configuration.GetValue<bool>("serve"))
            {
                lifetime.StopApplication();
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "2 + 3 = {Sum}")]
    private static partial void LogSum(ILogger logger, double sum);

    [LoggerMessage(2, LogLevel.Information, "1 / 0 refused: {Detail}")]
    private static partial void LogRefused(ILogger logger, string detail);
}
