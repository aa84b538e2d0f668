import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes a drain session carries (registered by `drain dev` on the dev server). */
export const DrainStatusKey = defineSearchAttributeKey('DrainStatus', SearchAttributeType.KEYWORD);
export const DrainRunFilterKey = defineSearchAttributeKey('DrainRunFilter', SearchAttributeType.KEYWORD);
export const DrainProcessedKey = defineSearchAttributeKey('DrainProcessed', SearchAttributeType.INT);
export const DrainFailedKey = defineSearchAttributeKey('DrainFailed', SearchAttributeType.INT);

export const DRAIN_SEARCH_ATTRIBUTES = [DrainStatusKey, DrainRunFilterKey, DrainProcessedKey, DrainFailedKey];

/** `Name=Type` strings for `temporal server start-dev --search-attribute`. */
export const DRAIN_SEARCH_ATTRIBUTE_FLAGS = [
  'DrainStatus=Keyword',
  'DrainRunFilter=Keyword',
  'DrainProcessed=Int',
  'DrainFailed=Int',
];
