"""The built-in tools: a static table of lazily imported classes.

The registry imports a tool's module only when the tool is first used, so registering
every built-in costs no imports. Each entry maps the canonical (kebab-case) name to
``"llmspell.tools.builtin.<module>:<ClassName>"``.
"""

from __future__ import annotations

__all__ = ["BUILTIN_TOOLS"]

_P = "llmspell.tools.builtin."

BUILTIN_TOOLS: dict[str, str] = {
    # utility
    "calculator": _P + "utility_calc:CalculatorTool",
    "text-manipulator": _P + "utility_text:TextManipulatorTool",
    "uuid-generator": _P + "utility_codec:UuidGeneratorTool",
    "hash-calculator": _P + "utility_codec:HashCalculatorTool",
    "base64-encoder": _P + "utility_codec:Base64EncoderTool",
    "datetime-handler": _P + "utility_datetime:DatetimeHandlerTool",
    "diff-calculator": _P + "utility_misc:DiffCalculatorTool",
    "data-validator": _P + "utility_misc:DataValidatorTool",
    "template-engine": _P + "utility_misc:TemplateEngineTool",
    "citation-formatter": _P + "utility_citation:CitationFormatterTool",
    # data
    "json-processor": _P + "data_json:JsonProcessorTool",
    "data-transformer": _P + "data_json:DataTransformerTool",
    "csv-analyzer": _P + "data_csv:CsvAnalyzerTool",
    "xml-processor": _P + "data_markup:XmlProcessorTool",
    "yaml-processor": _P + "data_markup:YamlProcessorTool",
    "statistical-analyzer": _P + "data_stats:StatisticalAnalyzerTool",
    "text-analyzer": _P + "data_text:TextAnalyzerTool",
    # filesystem
    "file-operations": _P + "filesystem:FileOperationsTool",
    "file-search": _P + "filesystem:FileSearchTool",
    "file-watcher": _P + "filesystem_watch:FileWatcherTool",
    "file-converter": _P + "filesystem_convert:FileConverterTool",
    "archive-handler": _P + "archive:ArchiveHandlerTool",
    # system
    "environment-reader": _P + "system:EnvironmentReaderTool",
    "process-executor": _P + "system:ProcessExecutorTool",
    "service-checker": _P + "system:ServiceCheckerTool",
    "system-monitor": _P + "system:SystemMonitorTool",
    # web
    "http-requester": _P + "web_http:HttpRequesterTool",
    "graphql-query": _P + "web_http:GraphQLQueryTool",
    "api-tester": _P + "web_api:ApiTesterTool",
    "webhook-caller": _P + "web_webhook:WebhookCallerTool",
    "web-searcher": _P + "web_search:WebSearcherTool",
    "web-scraper": _P + "web_scrape:WebScraperTool",
    "url-analyzer": _P + "web_url:UrlAnalyzerTool",
    "webpage-monitor": _P + "web_monitor:WebpageMonitorTool",
    "sitemap-crawler": _P + "web_sitemap:SitemapCrawlerTool",
    # communication
    "email-sender": _P + "communication:EmailSenderTool",
    "database-connector": _P + "communication_db:DatabaseConnectorTool",
    "slack-integration": _P + "communication_api:SlackIntegrationTool",
    "github-integration": _P + "communication_api:GitHubIntegrationTool",
    # documents
    "pdf-processor": _P + "documents:PdfProcessorTool",
    # scheduling
    "cron-scheduler": _P + "scheduling:CronSchedulerTool",
}
